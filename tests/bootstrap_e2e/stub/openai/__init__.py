"""A stand-in for the ``openai`` package, for running generated experiments offline.

``OpenAI().chat.completions.create(model=..., messages=..., temperature=...)`` answers
with a deterministic string built from the last user message; nothing leaves the process.
A message containing ``STUB-FAIL`` raises, like a failed API call.
"""


class _Message:
    def __init__(self, content):
        self.content = content


class _Choice:
    def __init__(self, content):
        self.message = _Message(content)


class _Response:
    def __init__(self, content):
        self.choices = [_Choice(content)]


class _Completions:
    def create(self, model, messages, temperature=None, **_ignored):
        prompt = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
        if "STUB-FAIL" in prompt:
            raise RuntimeError("stub: this request fails on purpose")
        if "France" in prompt:
            return _Response("Paris")
        return _Response(f"stub answer to: {prompt[:60]}")


class _Chat:
    def __init__(self):
        self.completions = _Completions()


class OpenAI:
    def __init__(self, *args, **kwargs):
        self.chat = _Chat()
