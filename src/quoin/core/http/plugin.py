"""The HTTP edge's concern: problem details, request ids, security headers, CORS, hosts and body rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from quoin.config import AppSettings, HttpSettings
from quoin.core.http.content_type import require_declared_media_type
from quoin.core.http.headers import HostHeaderMiddleware, cors_config, refused_preflight_as_problem, security_headers
from quoin.core.http.json_body import StrictJSONRequest
from quoin.core.http.openapi import add_openapi_correction, document_common_errors, document_response_headers
from quoin.core.http.problems import ProblemConverter, problem_details_plugin
from quoin.core.http.request_id import add_request_id_header

__all__ = ["HttpPlugin"]


class HttpPlugin(InitPluginProtocol):
    """Every answer a problem document when it is an error, with its request id and security headers.

    ``problems`` adds converters of other layers' exceptions (the database's);
    ``credential_headers`` are the features' credential headers, which CORS
    lets browsers send. Also the rules every request body follows.
    """

    def __init__(
        self,
        http: HttpSettings,
        app: AppSettings,
        problems: Mapping[type[Exception], ProblemConverter],
        credential_headers: Sequence[str] = (),
    ) -> None:
        self._http = http
        self._app = app
        self._problems = problems
        self._credential_headers = credential_headers

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Register the edge's hooks, middleware and configs."""
        app_config.plugins.append(problem_details_plugin(self._problems))
        # After the operations' security is known (the auth plugin, listed before this one).
        add_openapi_correction(app_config, document_common_errors)
        add_openapi_correction(app_config, document_response_headers)
        if self._http.hosts:
            app_config.middleware.insert(0, HostHeaderMiddleware(self._http.hosts))
        # First of the answer hooks: the refused preflight changes the content type the others read.
        app_config.before_send[0:0] = [
            refused_preflight_as_problem,
            add_request_id_header,
            security_headers(hsts=not self._app.is_development),
        ]
        app_config.before_request = require_declared_media_type
        app_config.request_class = StrictJSONRequest
        app_config.cors_config = cors_config(
            self._http, development=self._app.is_development, credential_headers=self._credential_headers
        )
        return app_config
