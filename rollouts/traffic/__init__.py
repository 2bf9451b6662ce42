"""What to write into an HTTPRoute/GRPCRoute for a weight, a header route or a mirror,
and how to tell that it took effect. Pure functions over plain dicts."""
