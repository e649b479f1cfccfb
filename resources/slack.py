"""Slack (design §4): the Web API when a bot token is configured, a local preview file otherwise."""

from __future__ import annotations

import dagster as dg

from bucketlens.alerts.delivery import PreviewSender, Sender, SlackSender
from bucketlens.settings import default


class SlackResource(dg.ConfigurableResource):
    bot_token: str = ""  # SLACK_BOT_TOKEN; empty → the preview sender
    api_url: str = default("slack_api_url")  # SLACK_API_URL (a fake server in tests)
    preview_path: str  # where the preview sender writes slack-preview.jsonl (slack-preview.md beside it)
    ui_url: str  # the Dagster UI's base URL, for "View in Dagster" links
    timeout_seconds: int = 10  # per Web API call; the delivery lease must stay well above it

    def __repr_args__(self):
        """The token never shows in a repr, a log line or an error message."""
        for name, value in super().__repr_args__():
            yield name, ("<redacted>" if name == "bot_token" and value else value)

    def sender(self) -> Sender:
        """A fresh sender for one drain (its channel-name cache lives as long as the drain)."""
        if self.bot_token:
            return SlackSender(self.bot_token, self.api_url, self.timeout_seconds, ui_url=self.ui_url)
        return PreviewSender(self.preview_path, ui_url=self.ui_url)
