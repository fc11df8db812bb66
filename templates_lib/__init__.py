"""Built-in journey templates: bilingual metadata, parameters with bounds, and documents.

>>> from templates_lib import instantiate
>>> doc = instantiate("second_purchase", {"remind_days_before_expiry": 5})

A template is a Python module (``templates_lib/builtin/*``) that builds the journey document
from validated parameters; the registry lists them; :func:`instantiate` returns a plain
document dict ready to compile or to save as a draft.
"""

from templates_lib.params import (
    Choice,
    Param,
    ParameterError,
    ParamIssue,
    ParamType,
    Text,
    check_value,
)
from templates_lib.preview import Preview, preview
from templates_lib.registry import (
    UnknownTemplateError,
    all_templates,
    get_template,
    instantiate,
    is_builtin,
    resolve_params,
)
from templates_lib.spec import Template

__all__ = [
    "Choice",
    "Param",
    "ParamIssue",
    "ParamType",
    "ParameterError",
    "Preview",
    "Template",
    "Text",
    "UnknownTemplateError",
    "all_templates",
    "check_value",
    "get_template",
    "instantiate",
    "is_builtin",
    "preview",
    "resolve_params",
]
