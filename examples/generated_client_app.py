"""An 8x8 SMS app built on a client generated from 8x8's OpenAPI specification: it knows nothing about
OpenTelemetry.

The client below is written the way openapi-generator's ``python`` client is (``Configuration``,
``ApiClient`` over a urllib3 ``PoolManager``, ``RESTResponse``, ``ApiException``, one class per API
tag), cut down to the two operations this app uses. Like the generated code, it opens every answer with
``preload_content=False`` and reads the body afterwards. Run it under ``opentelemetry-instrument`` and
every call it makes to 8x8 becomes a span; the failed ones also a log record and a ``com.8x8.api.errors``
count.

Environment: ``EIGHTXEIGHT_SMS_URL`` (default ``https://sms.8x8.com``), ``EIGHTXEIGHT_API_KEY``,
``EIGHTXEIGHT_SUBACCOUNT``.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote

import urllib3

PHONE = "+6591234567"


class Configuration:
    def __init__(self, host: str, access_token: str) -> None:
        self.host = host.rstrip("/")
        self.access_token = access_token


class ApiException(Exception):
    def __init__(self, status: int, reason: str, body: bytes) -> None:
        super().__init__(f"({status}) {reason}")
        self.status = status
        self.reason = reason
        self.body = body


class RESTResponse:
    """The generated client's answer: the urllib3 response, its body read on demand."""

    def __init__(self, response: Any) -> None:
        self.response = response
        self.status: int = response.status
        self.reason: str = response.reason
        self.data: bytes | None = None

    def read(self) -> bytes:
        if self.data is None:
            self.data = self.response.data
        return self.data


class ApiClient:
    def __init__(self, configuration: Configuration) -> None:
        self.configuration = configuration
        self.pool_manager = urllib3.PoolManager(num_pools=4, maxsize=4)
        self.default_headers = {"User-Agent": "OpenAPI-Generator/1.0.0/python", "Accept": "application/json"}

    def call_api(self, method: str, path: str, body: Any = None) -> RESTResponse:
        headers = {**self.default_headers, "Authorization": f"Bearer {self.configuration.access_token}"}
        encoded = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            encoded = json.dumps(body).encode()
        response = self.pool_manager.request(
            method,
            self.configuration.host + path,
            body=encoded,
            headers=headers,
            preload_content=False,
            timeout=urllib3.Timeout(total=10),
        )
        return RESTResponse(response)

    def deserialize(self, response: RESTResponse) -> Any:
        data = response.read()
        response.response.release_conn()
        if response.status >= 400:
            raise ApiException(response.status, response.reason, data)
        return json.loads(data) if data else None


class SmsApi:
    def __init__(self, api_client: ApiClient) -> None:
        self.api_client = api_client

    def send_sms(self, subaccount_id: str, sms_request: dict[str, Any]) -> Any:
        path = f"/api/v1/subaccounts/{quote(subaccount_id, safe='')}/messages"
        return self.api_client.deserialize(self.api_client.call_api("POST", path, sms_request))


class NumberLookupApi:
    def __init__(self, api_client: ApiClient) -> None:
        self.api_client = api_client

    def lookup(self, subaccount_id: str, phone_number: str) -> Any:
        path = f"/api/v1/subaccounts/{quote(subaccount_id, safe='')}/phones/{quote(phone_number, safe='')}"
        return self.api_client.deserialize(self.api_client.call_api("GET", path))


def main() -> int:
    configuration = Configuration(
        os.environ.get("EIGHTXEIGHT_SMS_URL", "https://sms.8x8.com"), os.environ.get("EIGHTXEIGHT_API_KEY", "demo")
    )
    subaccount = os.environ.get("EIGHTXEIGHT_SUBACCOUNT", "acme-demo")
    client = ApiClient(configuration)
    sms = SmsApi(client)
    for text in ("Your code is 123456", "FAIL 1002", "FAIL 1200"):
        try:
            sent = sms.send_sms(subaccount, {"destination": PHONE, "text": text})
            print(f"send {text!r}: accepted {sent['status']['state']}")
        except ApiException as error:
            print(f"send {text!r}: ApiException {error.status}")
    try:
        NumberLookupApi(client).lookup(subaccount, PHONE)
        print(f"lookup {PHONE}: found")
    except ApiException as error:
        print(f"lookup {PHONE}: ApiException {error.status}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
