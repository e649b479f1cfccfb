"""Approving or rejecting a response action from the Dagster UI: the jobs ``actions_approve`` and
``actions_reject``, launched with config (request id, reason, approver) from the Launchpad.

They do exactly what ``bucketlens actions approve|reject`` do (``ActionStore.decide``): the decision, the
webhook it queues and the edit of the Slack proposal commit together, and the audit records the approver
and the run. A request that is not waiting (unknown, decided, expired) fails the run with one line.
"""

from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from bucketlens.actions.notices import APPROVE_JOB, REJECT_JOB
from bucketlens.actions.store import ActionError
from resources.actions import ActionsResource
from resources.rules import RulesFile


class DecisionConfig(dg.Config):
    request_id: str = Field(description="The request to decide, e.g. act_3f2a… (`bucketlens actions list`).")
    reason: str = Field(description="Why: it goes into the audit and the Slack message.")
    approver: str = Field(description="Who decides (recorded with this run's id).")


def _decide(context: dg.OpExecutionContext, config: DecisionConfig, actions: ActionsResource, rules: RulesFile, decision: str) -> dg.Output:  # fmt: skip
    store = actions.store(rules.alerting().actions)
    actor = f"{config.approver.strip() or 'unknown'} (Dagster run {context.run_id[:8]})"
    try:
        outcome = store.decide(config.request_id.strip(), decision, actor, config.reason, datetime.now(UTC))
    except ActionError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    finally:
        store.dispose()
    r = outcome.request
    context.log.info(f"{r.request_id} {outcome.outcome} by {actor}: {config.reason}")
    return dg.Output(
        None,
        metadata={
            "request_id": r.request_id,
            "outcome": outcome.outcome,
            "action": r.action,
            "user_id": r.user_id,
            "rule": r.rule,
            "decided_by": actor,
            "reason": config.reason,
            "webhooks_queued": dg.MetadataValue.int(outcome.queued),
        },
    )


@dg.op(description="Approve a response action waiting for approval: its signed webhook is queued.")
def approve_action(context: dg.OpExecutionContext, config: DecisionConfig, actions: ActionsResource, rules: RulesFile):  # fmt: skip
    return _decide(context, config, actions, rules, "approve")


@dg.op(description="Reject a response action waiting for approval: nothing is sent.")
def reject_action(context: dg.OpExecutionContext, config: DecisionConfig, actions: ActionsResource, rules: RulesFile):  # fmt: skip
    return _decide(context, config, actions, rules, "reject")


@dg.job(name=APPROVE_JOB, description="Approve a proposed response action (config: request_id, reason, approver).", tags={"bucketlens/kind": "approval"})  # fmt: skip
def actions_approve():
    approve_action()


@dg.job(name=REJECT_JOB, description="Reject a proposed response action (config: request_id, reason, approver).", tags={"bucketlens/kind": "approval"})  # fmt: skip
def actions_reject():
    reject_action()
