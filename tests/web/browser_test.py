#!/usr/bin/env python3
"""The drawbridge web UI in a real browser (docs/drawbridge.md "Web UI", CTest label `web`).

Starts the real `drawbridge serve --self-signed-tls` on a free loopback port with a temporary
data directory, publishes through the REST API (a public repository with a signed tag holding a
subdirectory, a private one, another user's public one), then drives Debian's headless Chromium
through chromedriver: pages render, real link clicks reach the tree, sizes/digests/signer match
what was published, the copy button copies the deploy line, the private repository is invisible
logged out (its URL answers byte for byte like a missing one) and to another user, visible logged
in, gone again after logout; a 360x740 phone viewport never scrolls sideways; no request leaves
127.0.0.1; no console errors. Screenshots of every page (desktop and phone) go to the artifacts
directory.

usage: browser_test.py <drawbridge binary> <artifacts dir>
Exit 77 (CTest skip) when Chromium, chromedriver or selenium is missing — unless CI=true, where
that is a failure.
"""
import base64
import hashlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

START = time.monotonic()
DRAWBRIDGE, ARTIFACTS = sys.argv[1], sys.argv[2]
CI = os.environ.get("CI", "").lower() == "true"


def skip(reason):
    if CI:
        print(f"FAIL (CI=true): {reason}")
        sys.exit(1)
    print(f"SKIP: {reason}")
    sys.exit(77)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
if not CHROMIUM or not CHROMEDRIVER:
    skip("chromium and chromium-driver are not installed (deps/debian-packages.txt)")
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from selenium.common.exceptions import WebDriverException
except ImportError:
    skip("python3-selenium is not installed (deps/debian-packages.txt)")

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


# ---------------------------------------------------------------- the registry
work = tempfile.mkdtemp(prefix="drawbridge-web-")
os.makedirs(ARTIFACTS, exist_ok=True)
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
PORT = sock.getsockname()[1]
sock.close()
BASE = f"https://127.0.0.1:{PORT}"
log = open(os.path.join(ARTIFACTS, "drawbridge.log"), "w")
server = subprocess.Popen([DRAWBRIDGE, "serve", "--data-dir", work, "--self-signed-tls", "--address", "127.0.0.1",
                           "--port", str(PORT), "--log-format", "json"], stdout=log, stderr=subprocess.STDOUT)
driver = None


def cleanup():
    if driver:
        try:
            driver.quit()
        except Exception:
            pass
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
    shutil.rmtree(work, ignore_errors=True)


try:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for _ in range(200):
        try:
            urllib.request.urlopen(BASE + "/health", context=ctx, timeout=2).read()
            break
        except Exception:
            if server.poll() is not None:
                raise SystemExit("drawbridge exited at start-up; see drawbridge.log")
            time.sleep(0.1)
    ctx = ssl.create_default_context(cafile=os.path.join(work, "tls", "self-signed.pem"))
    ctx.check_hostname = False  # the certificate names localhost and 127.0.0.1; this is the IP

    def token(subject):
        return subprocess.check_output([DRAWBRIDGE, "token", "--data-dir", work, "--subject", subject],
                                       text=True).strip()

    ALICE, BOB = token("alice"), token("bob")
    ALGS = (("sha-224", "sha224"), ("sha-256", "sha256"), ("sha-384", "sha384"), ("sha-512", "sha512"))

    def header_digest(b):
        return ",".join(f"{n}=:{base64.b64encode(hashlib.new(a, b).digest()).decode()}:" for n, a in ALGS)

    def entry(b, t):
        d = {n: base64.b64encode(hashlib.new(a, b).digest()).decode() for n, a in ALGS}
        return '{"digest":' + json.dumps(d, separators=(",", ":")) + f',"length":{len(b)},"type":' + json.dumps(t) + "}"

    def put(tok, path, body, ctype):
        req = urllib.request.Request(f"{BASE}/api/v0.5.0{path}", data=body, method="PUT", headers={
            "Content-Type": ctype, "Content-Digest": header_digest(body), "Authorization": "Bearer " + tok})
        urllib.request.urlopen(req, context=ctx).read()

    DIR = "application/vnd.drawbridge.directory.v1+json"

    def directory(files):
        return ("{" + ",".join(json.dumps(k) + ":" + entry(v[0], v[1]) for k, v in sorted(files.items())) + "}").encode()

    def b64u(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    # The publisher key: P-256 with the openssl CLI (no Python crypto module needed).
    key = os.path.join(work, "publisher.pem")
    subprocess.check_call(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key])
    spki = subprocess.check_output(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"])
    FINGERPRINT = hashlib.sha256(spki).hexdigest()
    point = spki[-65:]
    jwk = {"kty": "EC", "crv": "P-256", "x": b64u(point[1:33]), "y": b64u(point[33:])}

    def der_to_raw(sig):  # ECDSA-Sig-Value -> r||s, 32 bytes each
        i = 2
        out = b""
        for _ in range(2):
            n = sig[i + 1]
            v = sig[i + 2:i + 2 + n].lstrip(b"\0")
            out += v.rjust(32, b"\0")
            i += 2 + n
        return out

    def sign(payload):
        protected = b64u(json.dumps({"alg": "ES256", "cty": "application/vnd.drawbridge.entry.v1+json",
                                     "jwk": jwk}, separators=(",", ":")).encode())
        signing_input = f"{protected}.{b64u(payload)}".encode()
        der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing_input,
                             capture_output=True, check=True).stdout
        return json.dumps({"payload": b64u(payload), "signatures": [
            {"protected": protected, "signature": b64u(der_to_raw(der))}]}, separators=(",", ":")).encode()

    def publish(tok, user, repo, tag, files, public, signed):
        """files: name -> (bytes, type) or name -> dict (a subdirectory)."""
        def node(fs):
            return directory({k: (node(v), DIR) if isinstance(v, dict) else v for k, v in fs.items()})
        root = node(files)
        try:
            put(tok, f"/{user}", json.dumps({"subject": user}, separators=(",", ":")).encode(), "application/json")
        except urllib.error.HTTPError as e:
            if e.code != 409:
                raise
        try:
            put(tok, f"/{user}/{repo}", json.dumps({"public": public}, separators=(",", ":")).encode(), "application/json")
        except urllib.error.HTTPError as e:
            if e.code != 409:
                raise
        tag_entry = entry(root, DIR).encode()
        if signed:
            put(tok, f"/{user}/{repo}/_tag/{tag}", sign(tag_entry), "application/jose+json")
        else:
            put(tok, f"/{user}/{repo}/_tag/{tag}", tag_entry, "application/vnd.drawbridge.entry.v1+json")

        def upload(prefix, fs):
            put(tok, f"/{user}/{repo}/_tag/{tag}/tree{prefix}", node(fs), DIR)
            for k, v in sorted(fs.items()):
                if isinstance(v, dict):
                    upload(f"{prefix}/{k}", v)
                else:
                    put(tok, f"/{user}/{repo}/_tag/{tag}/tree{prefix}/{k}", v[0], v[1])
        upload("", files)
        return hashlib.sha256(root).hexdigest()

    wasm = bytes(range(256)) * 40 + b"\0asm"
    toml = b'args = []\n'
    readme = b"<script>alert(1)</script> hello\n"
    app_files = {"Enarx.toml": (toml, "application/toml"), "main.wasm": (wasm, "application/wasm"),
                 "assets": {"readme.txt": (readme, "text/plain")}}
    ROOT_DIGEST = publish(ALICE, "alice", "app", "1.0.0", app_files, True, True)
    publish(ALICE, "alice", "app", "1.1.0", {"main.wasm": (wasm, "application/wasm")}, True, False)
    publish(ALICE, "alice", "secret", "2.0.0", {"main.wasm": (b"private", "application/wasm")}, False, False)
    publish(BOB, "bob", "tools", "0.1.0", {"main.wasm": (b"bob", "application/wasm")}, True, False)
    print(f"published in {time.monotonic() - START:.1f} s", flush=True)

    def fetch(path, cookie=None):
        req = urllib.request.Request(BASE + path, headers={"Cookie": cookie} if cookie else {})
        try:
            r = urllib.request.urlopen(req, context=ctx)
            return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    # ------------------------------------------------------- no oracle, headers (plain HTTP)
    s1, h1, b1 = fetch("/ui/alice/secret")
    s2, _, b2 = fetch("/ui/alice/nothing-here")
    check(s1 == 404 and s2 == 404 and b1 == b2, "private repository page == missing repository page (404, same bytes)")
    s1, _, b1 = fetch("/ui/alice/secret/2.0.0")
    s2, _, b2 = fetch("/ui/alice/nothing-here/2.0.0")
    check(s1 == 404 and s2 == 404 and b1 == b2, "private tag page == missing tag page (404, same bytes)")
    s1, _, b1 = fetch("/ui/alice/secret/2.0.0", cookie=f"drawbridge_ui={BOB}")
    s2, _, b2 = fetch("/ui/alice/nothing-here/2.0.0", cookie=f"drawbridge_ui={BOB}")
    check(s1 == 404 and s2 == 404 and b1 == b2, "to another user the private tag page == a missing one")
    s1, _, b1 = fetch("/ui/_find?user=%3Cscript%3E")
    check(s1 == 404, "a user name outside the grammar is not found")
    _, h, _ = fetch("/ui/")
    csp = h.get("Content-Security-Policy", "")
    check("default-src 'self'" in csp and h.get("X-Content-Type-Options") == "nosniff" and
          h.get("Referrer-Policy") == "same-origin", "security headers on every page")
    req = urllib.request.Request(BASE + "/ui/_login", data=f"token={ALICE}".encode(), method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    try:
        urllib.request.urlopen(req, context=ctx)
        check(False, "a cross-site login POST is refused")
    except urllib.error.HTTPError as e:
        check(e.code == 403 and "Set-Cookie" not in e.headers, "a cross-site login POST is refused (403, no cookie)")

    # ---------------------------------------------------------------- the browser
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-background-networking", "--disable-extensions", "--no-first-run",
              "--ignore-certificate-errors", "--disable-component-update", "--disable-sync",
              "--window-size=1280,900",
              # Anything but loopback fails to resolve: a page that reached out would break.
              "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(20)
    wait = WebDriverWait(driver, 10)
    shots = []

    def desktop():
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    def phone():
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 360, "height": 740, "deviceScaleFactor": 2, "mobile": True})

    def snap(name):
        """Screenshots at desktop and phone size; the phone one must not scroll sideways."""
        desktop()
        driver.save_screenshot(os.path.join(ARTIFACTS, f"{name}-desktop.png"))
        phone()
        time.sleep(0.1)
        sw, iw = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        check(sw <= iw, f"{name}: no horizontal overflow at 360 px (scrollWidth {sw}, innerWidth {iw})")
        driver.save_screenshot(os.path.join(ARTIFACTS, f"{name}-phone.png"))
        desktop()
        shots.append(name)

    def texts(css):
        return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]

    # While a page is being replaced, chromedriver may answer a query about the old page's nodes with
    # "unknown error: Node with given id does not belong to the document" rather than a stale-element
    # error (CI failed on it inside EC.staleness_of); such answers mean "not there yet", so retry.
    page_wait = WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,))

    def navigate(act):
        """Runs act (a click or a submit) and waits for the page it leads to. A marker on the old page's
        window object tells the pages apart: a new document gets a new window object, so the marker is
        gone only once the next page exists; readyState alone is already "complete" on the page left."""
        driver.execute_script("window.__leaving = true")
        act()
        page_wait.until(lambda d: d.execute_script(
            "return window.__leaving !== true && document.readyState === 'complete'"))

    def click_link(text):
        navigate(lambda: driver.find_element(By.LINK_TEXT, text).click())

    def click(css):
        navigate(lambda: driver.find_element(By.CSS_SELECTOR, css).click())

    # Index -> user -> repository -> tag -> subdirectory, by clicking links.
    driver.get(BASE + "/ui/")
    check(driver.find_element(By.TAG_NAME, "h1").text == "Registry", "index renders")
    check(texts("#users li") == ["alice", "bob"], f"index lists users with public repositories: {texts('#users li')}")
    snap("index")
    click_link("alice")
    check(driver.current_url == BASE + "/ui/alice", "user link leads to /ui/alice")
    check(texts("#repos li") == ["app"], f"logged out, alice's page lists only the public repository: {texts('#repos li')}")
    snap("user")
    click_link("app")
    check(texts("#tags li a") == ["1.0.0", "1.1.0"], f"repository page lists tags: {texts('#tags li a')}")
    snap("repo")
    click_link("1.0.0")
    check(driver.find_element(By.ID, "signed").get_attribute("data-signed") == "yes", "signed badge on the signed tag")
    check(driver.find_element(By.ID, "fingerprint").text == FINGERPRINT, "signer fingerprint = SHA-256 of the key's SPKI")
    line = driver.find_element(By.ID, "deploy-line").text
    want = f"enarx deploy 127.0.0.1:{PORT}/alice/app:1.0.0@sha-256:{ROOT_DIGEST} --signer {FINGERPRINT}"
    check(line == want, f"deploy line: {line!r}")
    rows = {}
    for tr in driver.find_elements(By.CSS_SELECTOR, "#tree tbody tr"):
        name = tr.find_element(By.TAG_NAME, "th").text
        size = int(tr.find_element(By.CSS_SELECTOR, "td.num").get_attribute("data-bytes"))
        digest = tr.find_element(By.CSS_SELECTOR, "code.digest").text
        rows[name] = (size, digest)
    check(rows.get("main.wasm") == (len(wasm), "sha-256:" + hashlib.sha256(wasm).hexdigest()), "main.wasm size and digest")
    check(rows.get("Enarx.toml") == (len(toml), "sha-256:" + hashlib.sha256(toml).hexdigest()), "Enarx.toml size and digest")
    check("assets/" in rows, f"the subdirectory is listed: {sorted(rows)}")
    # The copy button: shown by the script; with clipboard permission granted, it really copies.
    try:
        driver.execute_cdp_cmd("Browser.grantPermissions", {"origin": BASE, "permissions": ["clipboardReadWrite",
                                                                                           "clipboardSanitizedWrite"]})
    except Exception as e:
        print(f"note: clipboard permission not granted ({e})")
    button = driver.find_element(By.CSS_SELECTOR, "button[data-copy]")
    check(button.is_displayed(), "copy button shown when the script runs")
    button.click()
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".copy-status").text != "")
    status = driver.find_element(By.CSS_SELECTOR, ".copy-status").text
    check(status == "Copied", f"copy button reports: {status!r}")
    copied = driver.execute_async_script(
        "const done = arguments[0]; navigator.clipboard.readText().then(done, e => done('ERR ' + e));")
    check(copied == want, f"the clipboard holds the deploy line: {copied!r}")
    snap("tag")
    click_link("assets/")
    rows = [tr.find_element(By.TAG_NAME, "th").text for tr in driver.find_elements(By.CSS_SELECTOR, "#tree tbody tr")]
    check(rows == ["readme.txt"], f"subdirectory page lists its file: {rows}")
    check(driver.current_url == BASE + "/ui/alice/app/1.0.0/tree/assets", "subdirectory URL")
    snap("tree")
    click_link("Up to /")
    check(driver.current_url == BASE + "/ui/alice/app/1.0.0", "the up link returns to the tag")
    driver.get(BASE + "/ui/alice/app/1.1.0")
    check(driver.find_element(By.ID, "signed").get_attribute("data-signed") == "no", "unsigned tag shows unsigned")

    # Private: not found logged out, same page as a missing repository.
    driver.get(BASE + "/ui/alice/secret")
    check(driver.find_element(By.TAG_NAME, "h1").text == "Not found", "private repository is not found logged out")
    snap("not-found")

    # Bob logged in sees neither.
    driver.get(BASE + "/ui/_login")
    snap("login")
    driver.find_element(By.ID, "token").send_keys(BOB)
    click("form.login button")
    wait.until(lambda d: d.current_url == BASE + "/ui/")
    check("bob" in driver.find_element(By.CSS_SELECTOR, ".who").text, "logged in as bob")
    driver.get(BASE + "/ui/alice")
    check(texts("#repos li") == ["app"], "bob does not see alice's private repository")
    click("form.inline button")
    wait.until(lambda d: d.find_elements(By.LINK_TEXT, "Log in"))

    # Alice logs in with her token: the private repository appears, marked private.
    click_link("Log in")
    driver.find_element(By.ID, "token").send_keys("not-a-token")
    click("form.login button")
    check(driver.find_element(By.ID, "login-error").is_displayed(), "a bad token is refused with a message")
    driver.find_element(By.ID, "token").send_keys(ALICE)
    click("form.login button")
    wait.until(lambda d: d.current_url == BASE + "/ui/")
    cookie = driver.get_cookie("drawbridge_ui")
    check(cookie is not None and cookie.get("httpOnly") and cookie.get("secure") and cookie.get("sameSite") == "Strict",
          f"session cookie is HttpOnly, Secure, SameSite=Strict: {cookie and {k: cookie[k] for k in ('httpOnly', 'secure', 'sameSite')}}")
    check(driver.execute_script("return document.cookie") == "", "no script can read the session cookie")
    find = driver.find_element(By.ID, "find-user")
    find.send_keys("alice")
    navigate(find.submit)
    wait.until(lambda d: d.current_url == BASE + "/ui/alice")
    check(texts("#repos li") == ["app", "secret private"], f"logged in, alice sees her private repository: {texts('#repos li')}")
    snap("user-logged-in")
    click_link("secret")
    click_link("2.0.0")
    rows = [tr.find_element(By.TAG_NAME, "th").text for tr in driver.find_elements(By.CSS_SELECTOR, "#tree tbody tr")]
    check(rows == ["main.wasm"], "the private tag's tree is shown to its owner")
    snap("private-tag-logged-in")
    click("form.inline button")
    wait.until(lambda d: d.find_elements(By.LINK_TEXT, "Log in"))
    driver.get(BASE + "/ui/alice")
    check(texts("#repos li") == ["app"], "after logout the private repository is gone again")
    driver.get(BASE + "/ui/alice/secret")
    check(driver.find_element(By.TAG_NAME, "h1").text == "Not found", "after logout its page is not found")

    # Nothing left loopback; nothing complained.
    outside = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith(arguments[0]))",
        BASE + "/")
    check(outside == [], f"no request leaves {BASE}: {outside}")
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"
              and "/ui/alice/secret" not in e.get("message", "") and "/ui/_login" not in e.get("message", "")]
    check(errors == [], f"no console errors (404/401 answers the test asked for aside): {errors}")
    print(f"screenshots ({len(shots)} pages, desktop + phone) in {ARTIFACTS}")
finally:
    cleanup()

print(f"web browser test: {time.monotonic() - START:.1f} s, {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
