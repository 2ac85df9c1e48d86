"""Import AWS Step Functions state machines (Amazon States Language) as NEXUS YAML.

``convert_asl(asl, name=...)`` returns a :class:`Conversion`: the NEXUS YAML text, a report of
what was converted, approximated or is unsupported (each with the ASL state name and what to
do), and the names of the functions the user must supply. ``nexus migrate stepfunctions`` is the
command-line front end (docs/migrating-from-step-functions.md).

Overriding a converted function's target: every ASL Task resource becomes an entry of the
generated YAML's ``functions:`` section, keyed by a stable name derived from the ASL, and tasks
call it by that key:

- a Lambda (``arn:aws:lambda:...:function:NAME`` or ``arn:aws:states:::lambda:invoke`` with a
  static ``FunctionName``) becomes ``NAME: aws-lambda:NAME`` (the key is the function name,
  with characters other than letters, digits, ``-`` and ``_`` replaced by ``_``);
- a ``${Placeholder}`` resource becomes ``Placeholder: aws-lambda:Placeholder``;
- an activity ARN ``...:activity:NAME`` becomes ``NAME: activity:NAME``;
- any other service integration (``arn:aws:states:::SERVICE:ACTION[.sync]``, ``aws-sdk:...``)
  becomes ``SERVICE_ACTION: activity:sfn.SERVICE:ACTION`` and is listed in
  :attr:`Conversion.functions`.

To point a function elsewhere, edit (or rewrite programmatically) the value under its key, e.g.
``functions: {CheckStock: "python:tests.stubs:check_stock"}``; nothing else in the YAML refers to
the target. :func:`retarget` does this on the YAML text.
"""

from __future__ import annotations

from nexus_temporal.stepfunctions.callback import send_task_failure, send_task_success
from nexus_temporal.stepfunctions.convert import Conversion, convert_asl, retarget
from nexus_temporal.stepfunctions.load import AslError
from nexus_temporal.stepfunctions.report import ReportItem

__all__ = [
    "AslError",
    "Conversion",
    "ReportItem",
    "convert_asl",
    "retarget",
    "send_task_failure",
    "send_task_success",
]
