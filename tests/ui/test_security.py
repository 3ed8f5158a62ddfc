"""The guard: the token, the login form, CSRF, security headers and paths, on a real server."""

from __future__ import annotations

import json
import re
import urllib.request
from urllib.parse import quote

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from assetflow.ui.security import csrf_token, login_digest
from tests.ui.serving import cookie_values, fetch, raw_get, serving

ONE = """
    from assetflow import asset

    @asset
    def only() -> dict:
        return {"n": 1}
"""
TOKEN = "a-long-enough-token-for-tests"
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'"
)


async def _echo(request: Request) -> JSONResponse:
    form = await request.form()
    return JSONResponse({"form": {key: str(value) for key, value in form.items()}})


#: A POST endpoint behind the guard, as a launch or a cancel will be.
PROBES = [
    Route("/probe", _echo, methods=["POST"]),
    Route("/api/probe", _echo, methods=["POST"]),
]


def _csrf_of(url: str, cookie: str = "") -> tuple[str, str]:
    """A page's CSRF token and the browser cookie it belongs to."""
    headers = {"Cookie": cookie} if cookie else {}
    _, found, text = fetch(url + "/nowhere", headers=headers)
    token = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', text)
    assert token is not None, text
    browser = cookie_values(found).get("assetflow_csrf")
    cookies = [c for c in (cookie, browser and f"assetflow_csrf={browser}") if c]
    return token.group(1), "; ".join(cookies)


def test_every_response_carries_the_security_headers(make_project):
    root = make_project(ONE)
    with serving(root) as url:
        for path in ("/api/", "/nowhere", "/api/nowhere", "/static/app.css"):
            _, headers, _ = fetch(url + path)
            assert headers["content-security-policy"] == [CSP], path
            assert headers["x-content-type-options"] == ["nosniff"]
            assert headers["referrer-policy"] == ["same-origin"]
        status, headers, _ = fetch(url + "/probe", method="POST", form={})
        assert status == 403
        assert headers["content-security-policy"] == [CSP]


def test_without_a_token_loopback_needs_no_login(make_project):
    root = make_project(ONE)
    with serving(root) as url:
        status, _, text = fetch(url + "/api/")
        assert status == 200
        assert json.loads(text)["version"] == 1


def test_with_a_token_every_request_needs_it_but_static_files(make_project):
    root = make_project(ONE)
    with serving(root, token=TOKEN) as url:
        status, _, text = fetch(url + "/api/")
        assert (status, json.loads(text)) == (401, {"error": "unauthorized"})
        status, headers, _ = fetch(url + "/runs?status=failed")
        assert status == 303
        assert headers["location"] == ["/login?next=%2Fruns%3Fstatus%3Dfailed"]
        status, headers, _ = fetch(url + "/")
        assert headers["location"] == ["/login"]
        status, _, text = fetch(url + "/api/", headers={"Authorization": f"Bearer {TOKEN}x"})
        assert (status, json.loads(text)) == (401, {"error": "unauthorized"})
        status, _, text = fetch(url + "/api/", headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 200
        assert json.loads(text)["project"] == "proj"
        status, _, _ = fetch(url + "/static/app.css")
        assert status == 200
        # A POST without the token is refused before anything else is looked at.
        status, _, text = fetch(url + "/probe", method="POST", form={"csrf": "x"})
        assert status == 401
        assert "proj" not in text


def test_the_login_form_sets_a_cookie_that_then_opens_every_page(make_project):
    root = make_project(ONE)
    with serving(root, token=TOKEN) as url:
        status, _, text = fetch(url + "/login")
        assert status == 200
        assert 'name="token"' in text
        status, headers, text = fetch(url + "/login", method="POST", form={"token": "guess"})
        assert status == 401
        assert "wrong token" in text
        assert 'name="token"' in text
        assert "assetflow_ui" not in cookie_values(headers)
        status, headers, _ = fetch(url + "/login", method="POST", form={"token": TOKEN})
        assert status == 303
        assert headers["location"] == ["/"]
        line = next(c for c in headers["set-cookie"] if c.startswith("assetflow_ui="))
        assert "HttpOnly" in line
        assert "SameSite=Strict" in line
        assert TOKEN not in line  # the cookie proves the token without holding it
        cookie = f"assetflow_ui={cookie_values(headers)['assetflow_ui']}"
        status, _, _ = fetch(url + "/api/", headers={"Cookie": cookie})
        assert status == 200
        forged = f"assetflow_ui={login_digest('another-token-of-enough-length')}"
        status, _, _ = fetch(url + "/api/", headers={"Cookie": forged})
        assert status == 401


def test_logging_in_goes_back_to_the_page_that_asked_and_never_off_site(make_project):
    root = make_project(ONE)
    with serving(root, token=TOKEN) as url:
        status, _, text = fetch(url + "/login?next=%2Fruns%3Fstatus%3Dfailed")
        assert status == 200
        assert '<input type="hidden" name="next" value="/runs?status=failed">' in text
        form = {"token": TOKEN, "next": "/runs?status=failed"}
        status, headers, _ = fetch(url + "/login", method="POST", form=form)
        assert (status, headers["location"]) == (303, ["/runs?status=failed"])
        # A wrong token keeps where to go in the form it shows again.
        status, _, text = fetch(url + "/login", method="POST", form={**form, "token": "x"})
        assert status == 401
        assert 'value="/runs?status=failed"' in text
        for elsewhere in ("//evil.example/", "https://evil.example/", "/\\evil.example", "runs"):
            form = {"token": TOKEN, "next": elsewhere}
            status, headers, _ = fetch(url + "/login", method="POST", form=form)
            assert (status, headers["location"]) == (303, ["/"]), elsewhere
        status, _, text = fetch(url + "/login?next=" + quote('/"><script>x</script>'))
        assert "<script>x" not in text


def test_a_post_without_the_csrf_token_is_refused(make_project):
    root = make_project(ONE)
    with serving(root, routes=PROBES) as url:
        status, _, text = fetch(url + "/probe", method="POST", form={"asset": "only"})
        assert status == 403
        assert "missing or wrong CSRF token" in text
        assert text.lstrip().startswith("<!doctype html>")
        status, _, text = fetch(url + "/api/probe", method="POST", form={})
        assert (status, json.loads(text)) == (403, {"error": "missing or wrong CSRF token"})
        token, cookie = _csrf_of(url)
        # The right token, from the form field or the header, with its cookie: accepted,
        # and the app reads the whole form the guard has read.
        status, _, text = fetch(
            url + "/probe",
            method="POST",
            form={"csrf": token, "asset": "only"},
            headers={"Cookie": cookie},
        )
        assert status == 200, text
        assert json.loads(text)["form"] == {"csrf": token, "asset": "only"}
        status, _, text = fetch(
            url + "/api/probe",
            method="POST",
            form={"asset": "only"},
            headers={"Cookie": cookie, "X-CSRF-Token": token},
        )
        assert status == 200, text
        # Another browser's token, or this browser's without its cookie: refused.
        other, _ = _csrf_of(url)
        for form, headers in (
            ({"csrf": other}, {"Cookie": cookie}),
            ({"csrf": token}, {}),
            ({"csrf": token + "0"}, {"Cookie": cookie}),
        ):
            status, _, text = fetch(url + "/probe", method="POST", form=form, headers=headers)
            assert status == 403
            assert "missing or wrong CSRF token" in text


def test_a_bearer_client_needs_no_csrf_token_a_logged_in_browser_does(make_project):
    root = make_project(ONE)
    with serving(root, token=TOKEN, routes=PROBES) as url:
        status, _, text = fetch(
            url + "/api/probe",
            method="POST",
            form={"asset": "only"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert status == 200, text
        login = f"assetflow_ui={login_digest(TOKEN)}"
        status, _, text = fetch(
            url + "/api/probe", method="POST", form={}, headers={"Cookie": login}
        )
        assert (status, json.loads(text)) == (403, {"error": "missing or wrong CSRF token"})
        token, cookie = _csrf_of(url, login)
        status, _, text = fetch(
            url + "/api/probe", method="POST", form={"csrf": token}, headers={"Cookie": cookie}
        )
        assert status == 200, text


def test_the_csrf_token_is_an_hmac_of_the_secret_and_the_browser():
    assert csrf_token("s1", "b1") == csrf_token("s1", "b1")
    assert csrf_token("s1", "b1") != csrf_token("s2", "b1")
    assert csrf_token("s1", "b1") != csrf_token("s1", "b2")
    assert len(csrf_token("s1", "b1")) == 64


@pytest.mark.parametrize(
    "path",
    [
        "/static/../pyproject.toml",
        "/static/..%2fpyproject.toml",
        "/static/%2e%2e/%2e%2e/pyproject.toml",
        "/static/%2e%2e%2f%2e%2e%2fsecurity.py",
        "/static/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/static/....//....//etc/passwd",
        "/static/..\\..\\security.py",
        "/assets/..%2f..%2fetc%2fpasswd",
        "/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/api/assets/..%2f..%2fetc%2fpasswd",
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
    ],
)
def test_no_url_path_reaches_a_file_but_the_static_ones(make_project, path):
    root = make_project(ONE)
    (root / "secret.txt").write_text("TOP-SECRET")
    with serving(root) as url:
        status, text = raw_get(url, path)
        assert status == 404, (path, status)
        assert "root:" not in text
        assert "tool.assetflow" not in text
        assert "import" not in text
        status, text = raw_get(url, "/static/..%2f..%2f..%2fsecret.txt")
        assert status == 404
        assert "TOP-SECRET" not in text


def test_without_a_token_only_loopback_host_names_are_served(make_project):
    root = make_project(ONE)
    with serving(root) as url:
        port = url.rsplit(":", 1)[1]
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "localhost"):
            status, _, _ = fetch(url + "/api/", headers={"Host": host})
            assert status == 200, host
        # A name of another site that resolves to 127.0.0.1 (DNS rebinding): refused.
        for host in (f"evil.example:{port}", f"127.0.0.1.evil.example:{port}", ""):
            status, _, text = fetch(url + "/api/", headers={"Host": host})
            assert (status, json.loads(text)) == (400, {"error": "unknown host name"}), host
    with serving(root, token=TOKEN) as url:
        # With a token, any name reaches the server (it is bound beyond loopback).
        status, _, _ = fetch(
            url + "/api/",
            headers={"Host": "ui.example.org", "Authorization": f"Bearer {TOKEN}"},
        )
        assert status == 200


def test_the_csrf_token_is_found_in_a_multipart_form_and_odd_values_are_refused(make_project):
    root = make_project(ONE)
    with serving(root, routes=PROBES) as url:
        token, cookie = _csrf_of(url)
        boundary = "b0undary"
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="asset"\r\n\r\nonly\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
            f"--{boundary}--\r\n"
        ).encode()
        request = urllib.request.Request(
            url + "/probe",
            data=body,
            method="POST",
            headers={
                "Cookie": cookie,
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert json.loads(answer.read())["form"] == {"asset": "only", "csrf": token}
        for odd in ("é" * 64, "", " "):
            status, _, text = fetch(
                url + "/api/probe",
                method="POST",
                form={"csrf": odd},
                headers={"Cookie": cookie},
            )
            assert (status, json.loads(text)) == (403, {"error": "missing or wrong CSRF token"})
