"""The tokenless sender: what Slack would receive, written to files instead of sent.

``slack-preview.jsonl`` holds the exact Web API calls (method and arguments, as Slack would receive
them) with the fake ts each got; ``slack-preview.md`` beside it shows one section per message for a
person to read. Edits, thread replies and uploads are recorded the same way, and a message is found
again by its metadata identity, so the demo exercises the very delivery path production uses.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from pathlib import Path

from bucketlens.alerts.senders import carries_identity

_LOCK = threading.Lock()


def _blocks_markdown(blocks: list[dict]) -> list[str]:
    """Block Kit as a reader would see it, roughly: headers, texts, fields, context, link buttons."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"**{block['text']['text']}**")
        elif kind == "section":
            lines.append(block.get("text", {}).get("text", ""))
            lines.extend(f"> {f['text']}".replace("\n", " ") for f in block.get("fields", []))
            if block.get("accessory", {}).get("url"):
                lines.append(f"[{block['accessory']['text']['text']}]({block['accessory']['url']})")
        elif kind == "context":
            lines.append("_" + " ".join(e.get("text", "") for e in block.get("elements", [])) + "_")
        elif kind == "actions":
            lines.extend(
                f"[{e['text']['text']}]({e['url']})" for e in block.get("elements", []) if e.get("url")
            )
    return lines


def _markdown(method: str, args: dict, ts: str) -> str:
    channel = args.get("channel") or args.get("channel_id", "")
    where = f"thread {args['thread_ts']} in " if args.get("thread_ts") else ""
    heading = {"chat.update": f"edit of {args.get('ts')}", "files.completeUploadExternal": "file upload"}.get(
        method, "message"
    )
    lines = [f"## {heading} — {where}#{channel} (ts {ts})", ""]
    text = args.get("text") or args.get("initial_comment") or ""
    lines.extend(["```", text, "```", ""])
    for attachment in args.get("attachments", []):
        lines.append(f"colour {attachment.get('color', '')}")
        lines.extend(_blocks_markdown(attachment.get("blocks", [])))
    if method == "files.completeUploadExternal":
        lines.extend(f"file: {f['title']}" for f in json.loads(args["files"]))
    return "\n".join(lines) + "\n\n"


class PreviewSender:
    """Appends each Slack call to ``path`` (JSON Lines) and a readable section to ``slack-preview.md``."""

    def __init__(self, path: str | Path, *, ui_url: str = "") -> None:
        self.path = Path(path)
        self.markdown_path = self.path.with_name("slack-preview.md")
        self.ui_url = ui_url
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"PreviewSender({str(self.path)!r})"

    def _entries(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]

    def _record(self, method: str, args: dict, ts: str = "") -> str:
        """Append one call; a fresh ts (unique within the file, like Slack's) when none is given."""
        with _LOCK:
            if not ts:
                ts = f"{int(time.time())}.{len(self._entries()) + 1:06d}"
            entry = {"method": method, "args": args, "ts": ts}
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(entry, sort_keys=True) + "\n")
            if method != "files.getUploadURLExternal":  # a step of an upload, not a message
                with self.markdown_path.open("a", encoding="utf-8") as out:
                    out.write(_markdown(method, args, ts))
        return ts

    def channel_id(self, channel: str) -> str:
        return channel.lstrip("#")

    def post(self, args: dict) -> tuple[str, str]:
        return args["channel"], self._record("chat.postMessage", args)

    def update(self, channel_id: str, ts: str, args: dict) -> None:
        content = {k: args[k] for k in ("text", "attachments", "blocks") if k in args}
        self._record("chat.update", {"channel": channel_id, "ts": ts, **content}, ts)

    def upload(self, channel_id: str, path: str, text: str, thread_ts: str = "") -> tuple[str, str]:
        name = Path(path).name
        size = Path(path).stat().st_size
        self._record("files.getUploadURLExternal", {"filename": name, "length": size}, "-")
        files = json.dumps([{"id": f"FPREVIEW{len(self._entries()):06d}", "title": name}])
        args = {"files": files, "channel_id": channel_id, "initial_comment": text}
        if thread_ts:
            args["thread_ts"] = thread_ts
        return channel_id, self._record("files.completeUploadExternal", args)

    def find_message(
        self,
        channel_id: str,
        identity: str,
        oldest: datetime,
        *,
        thread_ts: str | None,
        upload_text: str | None,
    ) -> str | None:
        """The ts under which a message with this identity was previewed (``oldest`` is not needed: the
        file is the whole history)."""
        for entry in self._entries():
            args = entry["args"]
            if entry["method"] == "chat.postMessage" and carries_identity(args, identity):
                return entry["ts"]
            if (
                upload_text is not None
                and entry["method"] == "files.completeUploadExternal"
                and args.get("initial_comment") == upload_text
                and args.get("channel_id") == channel_id
            ):
                return entry["ts"]
        return None
