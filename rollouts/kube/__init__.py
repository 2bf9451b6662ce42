"""The only code that talks to a Kubernetes API: client, kopf handlers, action executor."""
