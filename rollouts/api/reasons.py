"""Every reason string the project writes into conditions, pause conditions and Events.

One module, so that the operator, the CLI, the dashboard and the tests agree on them.
Names follow Argo Rollouts where the meaning is the same.
"""

from __future__ import annotations

__all__ = [
    "AVAILABLE",
    "COMPLETED",
    "HEALTHY",
    "INVALID_SPEC",
    "PAUSED",
    "PROGRESSING",
    "Reason",
]

# Condition types.
AVAILABLE = "Available"
COMPLETED = "Completed"
HEALTHY = "Healthy"
INVALID_SPEC = "InvalidSpec"
PAUSED = "Paused"
PROGRESSING = "Progressing"


class Reason:
    """Reason strings for conditions and Events."""

    # Progressing
    NEW_REPLICA_SET_CREATED = "NewReplicaSetCreated"
    REPLICA_SET_UPDATED = "ReplicaSetUpdated"
    NEW_REPLICA_SET_AVAILABLE = "NewReplicaSetAvailable"
    PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
    ROLLOUT_ABORTED = "RolloutAborted"
    ROLLOUT_PAUSED = "RolloutPaused"
    ROLLOUT_RESUMED = "RolloutResumed"
    ROLLOUT_RETRIED = "RolloutRetried"
    # Available
    AVAILABLE = "AvailableReason"
    NOT_AVAILABLE = "NotAvailable"
    # Completed / Healthy
    ROLLOUT_COMPLETED = "RolloutCompleted"
    ROLLOUT_NOT_COMPLETED = "RolloutNotCompleted"
    ROLLOUT_HEALTHY = "RolloutHealthy"
    ROLLOUT_NOT_HEALTHY = "RolloutNotHealthy"
    # InvalidSpec
    INVALID_SPEC = "InvalidSpec"
    # Pause conditions
    CANARY_PAUSE_STEP = "CanaryPauseStep"
    INCONCLUSIVE_ANALYSIS = "InconclusiveAnalysisRun"
    # Events
    ROLLOUT_UPDATED = "RolloutUpdated"
    STEP_COMPLETED = "RolloutStepCompleted"
    WEIGHT_CHANGED = "TrafficWeightUpdated"
    ANALYSIS_RUN_CREATED = "AnalysisRunCreated"
    ANALYSIS_RUN_SUCCESSFUL = "AnalysisRunSuccessful"
    ANALYSIS_RUN_FAILED = "AnalysisRunFailed"
    ANALYSIS_RUN_ERROR = "AnalysisRunError"
    ANALYSIS_RUN_INCONCLUSIVE = "AnalysisRunInconclusive"
    ROLLOUT_PROMOTED = "RolloutPromoted"
    FAST_ROLLBACK = "SkipSteps"
