"""The actions layer: alerts → response actions (signed webhooks, approvals, emails) and their audit."""

from assets.actions.action_log import action_log
from assets.actions.action_requests import action_requests
from assets.actions.approval import actions_approve, actions_reject

ACTION_ASSETS = [action_requests, action_log]
ACTION_JOBS = [actions_approve, actions_reject]
