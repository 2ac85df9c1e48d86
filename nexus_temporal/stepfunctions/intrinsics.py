"""ASL intrinsic function calls (``States.Format('{}', $.a)``) → JSONata calls of the functions
NEXUS registers (``$states_format("{}", value.a)``, see nexus_temporal/dsl/intrinsics.py)."""

from __future__ import annotations

import json
import re

from nexus_temporal.dsl.intrinsics import INTRINSICS
from nexus_temporal.stepfunctions.paths import Env, PathError, reference, seed

_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def intrinsic(text: str, env: Env) -> str:
    """JSONata for one intrinsic call (nested calls included)."""
    parser = _Parser(text, env)
    out = parser.call()
    parser.ws()
    if parser.i != len(text):
        raise PathError(f"unexpected text after the intrinsic call: {text[parser.i :]!r}")
    return out


class _Parser:
    def __init__(self, text: str, env: Env) -> None:
        self.text = text
        self.i = 0
        self.env = env

    def ws(self) -> None:
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1

    def call(self) -> str:
        self.ws()
        m = re.compile(r"States\.[A-Za-z0-9]+").match(self.text, self.i)
        if not m:
            raise PathError(f"expected an intrinsic function at {self.text[self.i :]!r}")
        name = m.group(0)
        if name not in INTRINSICS:
            raise PathError(f"unknown intrinsic function '{name}'")
        self.i = m.end()
        self.ws()
        if self.text[self.i : self.i + 1] != "(":
            raise PathError(f"'{name}' needs its arguments in parentheses")
        self.i += 1
        args: list[str] = []
        self.ws()
        if self.text[self.i : self.i + 1] == ")":
            self.i += 1
        else:
            while True:
                args.append(self.arg(raw=name == "States.Format" and not args))
                self.ws()
                ch = self.text[self.i : self.i + 1]
                self.i += 1
                if ch == ")":
                    break
                if ch != ",":
                    raise PathError(f"expected ',' or ')' in {self.text!r}")
        if name == "States.UUID":
            args = [seed(self.env)]
        elif name == "States.MathRandom" and len(args) == 2:
            args.append(seed(self.env))
        return f"${INTRINSICS[name]}({', '.join(args)})"

    def arg(self, raw: bool) -> str:
        self.ws()
        ch = self.text[self.i : self.i + 1]
        if ch == "'":
            return self.string(raw)
        if self.text.startswith("States.", self.i):
            return self.call()
        if ch == "$":
            start = self.i
            depth = 0
            quote = ""
            while self.i < len(self.text):
                c = self.text[self.i]
                if quote:
                    if c == "\\":
                        self.i += 1
                    elif c == quote:
                        quote = ""
                elif c in "'\"":
                    quote = c
                elif c in "[(":
                    depth += 1
                elif c in "])":
                    if depth == 0:
                        break
                    depth -= 1
                elif c == "," and depth == 0:
                    break
                self.i += 1
            return reference(self.text[start : self.i].strip(), self.env)
        m = _NUMBER.match(self.text, self.i)
        if m:
            self.i = m.end()
            return m.group(0)
        for word in ("null", "true", "false"):
            if self.text.startswith(word, self.i):
                self.i += len(word)
                return word
        raise PathError(f"cannot read the intrinsic argument at {self.text[self.i :]!r}")

    def string(self, raw: bool) -> str:
        """A quoted literal; ``raw`` keeps ``\\{`` ``\\}`` ``\\\\`` for States.Format."""
        self.i += 1
        out: list[str] = []
        while self.i < len(self.text):
            c = self.text[self.i]
            if c == "\\" and self.i + 1 < len(self.text):
                nxt = self.text[self.i + 1]
                if nxt == "'" or not raw:
                    out.append(nxt)
                else:
                    out.append(c + nxt)
                self.i += 2
                continue
            if c == "'":
                self.i += 1
                return json.dumps("".join(out), ensure_ascii=False)
            out.append(c)
            self.i += 1
        raise PathError(f"unterminated string in {self.text!r}")
