"""The Gateway API data plane: config compilation, matching, balancing, proxying, status."""
