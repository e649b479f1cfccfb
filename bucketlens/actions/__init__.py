"""Response actions: what bucketlens asks the service's own API to do about one user (throttle, block
uploads, notify, review), signed as Standard Webhooks, with a human in the loop where the operator wants
one, and emails to users and operators.

``policies`` (the rules file's ``actions`` section) → ``planner`` (pure: alerts → requests, audit, queued
webhooks and emails) → ``store`` (the alert database: decisions, approvals, expiries, lifts, each in one
locked transaction) → ``delivery`` (``webhooks``, ``email``: the outbox drained exactly as the Slack one,
on the shared ``bucketlens.leased_queue``) → ``mirror`` (the warehouse's ``actions.*`` tables).
"""
