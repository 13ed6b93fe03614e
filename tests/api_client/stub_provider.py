"""A stub LLM provider on 127.0.0.1 for the integration and topic discovery tests.

It speaks OpenAI's API under ``/v1`` (``GET /models``, ``POST /chat/completions``,
``POST /embeddings``) and Anthropic's under ``/anthropic/v1`` (``GET /models``,
``POST /messages``). Every request is recorded (method, path, lower-cased headers, JSON body).

Answers are deterministic:
- chat: ``reply:<last user message>``; a request whose system prompt asks to name a topic gets
  ``Topic <word>`` for the most frequent word of five letters or more in the examples; model
  ``fail`` gets a 500 with an OpenAI error body;
- embeddings: a bag of words hashed into 64 dimensions (texts sharing words are close).
"""

from __future__ import annotations

import collections
import hashlib
import http.server
import json
import re
import threading
from typing import Any

MODELS = ["stub-chat", "stub-embed"]
EMBED_DIMS = 64


def embed(text: str) -> list[float]:
    vector = [0.0] * EMBED_DIMS
    for word in re.findall(r"[a-z]+", text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        vector[digest[0] % EMBED_DIMS] += 1.0 if digest[1] % 2 else -1.0
    return vector


def topic_name(text: str) -> str:
    words = [w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 5 and w not in {"topic", "inputs", "examples", "words"}]
    if not words:
        return "Topic misc"
    return "Topic " + collections.Counter(words).most_common(1)[0][0]


class StubProvider:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self, status: int, body: Any) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _record(self, body: Any) -> None:
                stub.requests.append({"method": self.command, "path": self.path, "body": body,
                                      "headers": {k.lower(): v for k, v in self.headers.items()}})

            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                self._record(None)
                if self.path == "/v1/models":
                    self._answer(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in MODELS]})
                elif self.path == "/anthropic/v1/models":
                    self._answer(200, {"data": [{"id": "claude-stub", "display_name": "Claude Stub", "type": "model"}]})
                else:
                    self._answer(404, {"error": {"message": "no such route"}})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                self._record(body)
                if self.path == "/v1/chat/completions":
                    if body.get("model") == "fail":
                        self._answer(500, {"error": {"message": "the stub fails on purpose", "type": "server_error"}})
                        return
                    messages = body.get("messages") or []
                    system = " ".join(m.get("content", "") for m in messages if m.get("role") == "system")
                    user = [m.get("content", "") for m in messages if m.get("role") == "user"]
                    if "name the topic" in system.lower():
                        reply = topic_name(" ".join(user))
                    else:
                        reply = "reply:" + (user[-1] if user else "")
                    self._answer(200, {"id": "chatcmpl-stub", "object": "chat.completion", "model": body.get("model"),
                                       "choices": [{"index": 0, "finish_reason": "stop",
                                                    "message": {"role": "assistant", "content": reply}}],
                                       "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}})
                elif self.path == "/v1/embeddings":
                    inputs = body.get("input")
                    inputs = [inputs] if isinstance(inputs, str) else inputs
                    self._answer(200, {"object": "list", "model": body.get("model"),
                                       "data": [{"object": "embedding", "index": i, "embedding": embed(t)}
                                                for i, t in enumerate(inputs)]})
                elif self.path == "/anthropic/v1/messages":
                    user = [m.get("content", "") for m in body.get("messages") or [] if m.get("role") == "user"]
                    self._answer(200, {"id": "msg_stub", "type": "message", "role": "assistant",
                                       "content": [{"type": "text", "text": "claude:" + (user[-1] if user else "")}],
                                       "stop_reason": "end_turn", "usage": {"input_tokens": 5, "output_tokens": 2}})
                else:
                    self._answer(404, {"error": {"message": "no such route"}})

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    @property
    def openai_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/anthropic/v1"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


STUB_KEY = "sk-stub-secret-0123456789"
CLAUDE_KEY = "sk-ant-stub-secret-9876543210"


def accounts_file(stub: StubProvider, directory) -> str:
    """An integrations file with the stub's accounts: ``stub`` (openai, key from the
    ``STUB_KEY`` variable, embeddings), ``fixed`` (llmproxy with a fixed model list) and
    ``claude`` (anthropic, key in the file)."""
    import pathlib

    path = pathlib.Path(directory) / "integrations.json"
    path.write_text(json.dumps({"accounts": [
        {"integration": "openai", "id": "stub", "name": "Stub OpenAI", "base_url": stub.openai_url,
         "api_key_env": "STUB_KEY", "region": "local", "embedding_model": "stub-embed"},
        {"integration": "llmproxy", "id": "fixed", "base_url": stub.openai_url, "models": ["b-model", "a-model"]},
        {"integration": "anthropic", "id": "claude", "name": "Claude", "base_url": stub.anthropic_url,
         "api_key": CLAUDE_KEY},
    ]}))
    return str(path)
