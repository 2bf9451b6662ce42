"""Progressive delivery for the Kubernetes Gateway API.

The package is layered (see DESIGN.md and the import-linter contracts in
pyproject.toml): ``api`` holds the models, ``canary`` the pure decision core,
``analysis``/``traffic``/``gateway`` the engines, and ``kube``/``local``/``cli``/
``dashboard`` the adapters that talk to the outside world.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
