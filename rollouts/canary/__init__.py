"""The pure canary decision core: given a Rollout, what was observed and ``now``,
decide the new status, the actions to take and when to look again.

No I/O, no clock, no Kubernetes client: everything it needs is passed in.
"""
