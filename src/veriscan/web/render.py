"""Typed access to what the app factory keeps on ``app.state``."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from veriscan.store.case import Case


def page(request: Request, template: str, context: dict[str, Any]) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, template, context)


def case_of(request: Request) -> Case:
    case: Case = request.app.state.case
    return case
