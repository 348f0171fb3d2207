#!/usr/bin/python3
"""Drives the HookBus console in headless Chromium (Debian's chromium and chromium-driver,
through python3-selenium) against a live `hookbus serve`, as a person would: refused without a
token, logged in, events filtered, a failed run's stderr read, a new event seen arriving live,
a failed event re-driven, an action form refused for a bad field value. It takes a screenshot of
each page into $SCREENSHOTS.

Started by Tests/EndToEndTests/ConsoleBrowserTests.swift, which starts the server, posts the first events and passes:
HOOKBUS_BASE, OPERATOR_TOKEN, SENDER_TOKEN, FAILED_EVENT (an updateIncident event whose run
failed), GOOD_EVENT (a newIncident event whose run succeeded), SCREENSHOTS.

Exits 0 when every check held; otherwise prints the one that failed and exits 1. Every wait is
for a condition on the page, bounded by WAIT seconds.
"""
import json
import os
import sys
import traceback
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE = os.environ["HOOKBUS_BASE"]
OPERATOR_TOKEN = os.environ["OPERATOR_TOKEN"]
SENDER_TOKEN = os.environ["SENDER_TOKEN"]
FAILED_EVENT = os.environ["FAILED_EVENT"]
GOOD_EVENT = os.environ["GOOD_EVENT"]
SCREENSHOTS = os.environ["SCREENSHOTS"]
WAIT = 30


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def post_hook(hook, params):
    """Posts an event as the incident system does; returns its id."""
    request = urllib.request.Request(
        f"{BASE}/api/v1/hooks/{hook}", data=json.dumps(params).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {SENDER_TOKEN}"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=WAIT) as response:
        check(response.status == 202, f"posting {hook} answered {response.status}")
        return json.load(response)["event"]


def start_browser(options):
    """Headless Chromium under its driver. A start can fail when the machine is loaded (the
    driver gives up waiting for the browser's DevTools port): tried three times, each failure
    printed."""
    for attempt in range(1, 4):
        try:
            return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        except WebDriverException as failure:
            print(f"starting chromium failed (attempt {attempt} of 3): {failure.msg}", file=sys.stderr)
            if attempt == 3:
                raise


def main():
    os.makedirs(SCREENSHOTS, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1440,900",
                     "--no-proxy-server", "--disable-extensions"):
        options.add_argument(argument)
    driver = start_browser(options)
    wait = WebDriverWait(driver, WAIT)

    def shot(name):
        driver.save_screenshot(os.path.join(SCREENSHOTS, f"{name}.png"))

    def text_of(selector):
        return driver.find_element(By.CSS_SELECTOR, selector).text

    def log_in(token, strip_required=False):
        field = wait.until(EC.presence_of_element_located((By.ID, "token")))
        if strip_required:
            driver.execute_script("arguments[0].removeAttribute('required')", field)
        field.clear()
        if token:
            field.send_keys(token)
        # Waits until the answer has replaced this page: the login page comes back with its
        # error, and the old page's error must not be read as the new one's.
        page = driver.find_element(By.TAG_NAME, "html")
        driver.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
        wait.until(EC.staleness_of(page))

    try:
        # Refused without a token: every page sends the browser to the login form, and a login
        # with no token or a wrong one stays there with the reason.
        driver.get(f"{BASE}/ui/events")
        wait.until(EC.url_contains("/ui/login"))
        shot("01-login")
        log_in("", strip_required=True)
        error = wait.until(EC.presence_of_element_located((By.ID, "login-error")))
        check("operator token" in error.text, f"an empty login said: {error.text!r}")
        log_in("not-a-configured-token")
        error = wait.until(EC.presence_of_element_located((By.ID, "login-error")))
        check("not one of the configured tokens" in error.text, f"a wrong token said: {error.text!r}")
        log_in(SENDER_TOKEN)
        error = wait.until(EC.presence_of_element_located((By.ID, "login-error")))
        check("has role sender" in error.text, f"a sender token said: {error.text!r}")
        shot("02-login-refused")
        driver.get(f"{BASE}/ui/runs")
        wait.until(EC.url_contains("/ui/login"))

        # Logged in with the operator token: back to the page first asked for.
        log_in(OPERATOR_TOKEN)
        wait.until(EC.url_contains("/ui/runs"))
        check(text_of(".who") == "alice", f"logged in as {text_of('.who')!r}")
        cookies = {cookie["name"]: cookie for cookie in driver.get_cookies()}
        session = cookies.get("hookbus_session")
        check(session is not None and session.get("httpOnly") and session.get("sameSite") == "Strict",
              f"the session cookie is {session}")

        # Filter events: failures only, then by incident id.
        driver.get(f"{BASE}/ui/events")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, f'tr[data-event="{GOOD_EVENT}"]')))
        Select(driver.find_element(By.NAME, "outcome")).select_by_value("any failure")
        driver.find_element(By.CSS_SELECTOR, "#event-filters button[type=submit]").click()
        wait.until(EC.url_contains("outcome=any+failure"))
        rows = [row.get_attribute("data-event") for row in driver.find_elements(By.CSS_SELECTOR, "#event-rows tr")]
        check(FAILED_EVENT in rows and GOOD_EVENT not in rows, f"failures only shows {rows}")
        check("failure" in driver.find_element(By.CSS_SELECTOR, f'tr[data-event="{FAILED_EVENT}"]').get_attribute("class"),
              "a failed event's row does not stand out")
        shot("03-events-failures")
        driver.get(f"{BASE}/ui/events")
        subject = wait.until(EC.presence_of_element_located((By.NAME, "subject")))
        subject.send_keys("1742", Keys.ENTER)
        wait.until(EC.url_contains("subject=1742"))
        rows = [row.get_attribute("data-event") for row in driver.find_elements(By.CSS_SELECTOR, "#event-rows tr")]
        check(rows == [FAILED_EVENT], f"incident 1742 shows {rows}")

        # Open the failed event: its run's stderr is on the page, as text.
        driver.find_element(By.LINK_TEXT, FAILED_EVENT).click()
        wait.until(EC.presence_of_element_located((By.ID, "event-id")))
        stderr = driver.find_element(By.CSS_SELECTOR, "article.run pre.stderr").text
        check("connection refused by ticketing.example" in stderr, f"the failed run's stderr reads {stderr!r}")
        check("<b>" in stderr, "markup a trigger printed is not shown as text")
        check(not driver.find_elements(By.CSS_SELECTOR, "article.run pre.stderr b"), "markup a trigger printed became HTML")
        shot("04-event-failed")

        # Live: the newest page, unfiltered; an event posted now appears without a reload.
        driver.get(f"{BASE}/ui/events")
        wait.until(EC.visibility_of_element_located((By.ID, "live")))
        driver.execute_script("window.hookbusNotReloaded = true")
        live_event = post_hook("newIncident", {"incidentsDetail": {"id": 5150, "name": "Live one"}})
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, f'tr[data-event="{live_event}"]')))
        check(driver.execute_script("return window.hookbusNotReloaded === true"), "the page reloaded to show the new event")
        first = driver.find_element(By.CSS_SELECTOR, "#event-rows tr").get_attribute("data-event")
        check(first == live_event, f"the new event is not at the top ({first})")
        # Its run ends: the row says so, still without a reload.
        wait.until(lambda d: "1 succeeded" in d.find_element(By.CSS_SELECTOR, f'tr[data-event="{live_event}"] td.runs').text)
        check(driver.find_element(By.CSS_SELECTOR, f'tr[data-event="{live_event}"] .state').text == "done", "the live row's state did not follow")
        check(driver.execute_script("return window.hookbusNotReloaded === true"), "the page reloaded to show the run")
        shot("05-events-live")

        # Re-drive the failed event: a new attempt of its failed trigger, by alice.
        driver.get(f"{BASE}/ui/events/{FAILED_EVENT}")
        runs_before = len(driver.find_elements(By.CSS_SELECTOR, "article.run"))
        driver.find_element(By.ID, "redrive").click()
        flash = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".flash")))
        check("Re-driven: 1 new run" in flash.text, f"the re-drive said {flash.text!r}")
        articles = driver.find_elements(By.CSS_SELECTOR, "article.run")
        check(len(articles) == runs_before + 1, f"{len(articles)} runs after the re-drive, {runs_before} before")
        newest = articles[-1].find_element(By.TAG_NAME, "h3").text
        check("attempt 2" in newest and "by alice" in newest and "repeats run" in newest, f"the new attempt reads {newest!r}")
        shot("06-event-redriven")

        # The action form: a bad field value is refused at the field, nothing runs.
        driver.get(f"{BASE}/ui/actions")
        wait.until(EC.presence_of_element_located((By.ID, "actions")))
        shot("07-actions")
        driver.find_element(By.CSS_SELECTOR, 'a[data-action="Console Demo/Look up IP"]').click()
        form = wait.until(EC.presence_of_element_located((By.ID, "action-form")))
        field = form.find_element(By.NAME, "field.ip")
        field.send_keys("not-an-ip")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        error = wait.until(EC.presence_of_element_located((By.ID, "error-ip")))
        check("ip" in error.text.lower(), f"the bad field's error reads {error.text!r}")
        check(driver.find_element(By.NAME, "field.ip").get_attribute("value") == "not-an-ip", "the form lost the value typed")
        check(not driver.find_elements(By.ID, "action-result"), "an action ran with a bad field")
        shot("08-action-field-error")
        field = driver.find_element(By.NAME, "field.ip")
        field.clear()
        field.send_keys("203.0.113.7")
        driver.find_element(By.CSS_SELECTOR, "#action-form button[type=submit]").click()
        result = wait.until(EC.presence_of_element_located((By.ID, "action-result")))
        check("looked up 203.0.113.7" in result.text, f"the action's result reads {result.text!r}")
        shot("09-action-ran")

        # The other pages, in both themes.
        for name, path in (("10-runs", "/ui/runs"), ("11-triggers", "/ui/triggers"), ("12-health", "/ui/health")):
            driver.get(BASE + path)
            wait.until(EC.presence_of_element_located((By.TAG_NAME, "h1")))
            shot(name)
        driver.find_element(By.ID, "theme").click()
        shot("13-health-dark")
        driver.get(f"{BASE}/ui/events/{FAILED_EVENT}")
        wait.until(EC.presence_of_element_located((By.ID, "event-id")))
        shot("14-event-dark")
        print(f"console checks passed; screenshots in {SCREENSHOTS}")
        return 0
    except (CheckFailed, WebDriverException) as failure:
        # A check, a wait that timed out, or the driver's own error (an element gone, the
        # browser lost): all are failures of the test, said with the page they happened on.
        shot("failure")
        print(f"console check failed: {failure!r} at {driver.current_url}", file=sys.stderr)
        traceback.print_exc()
        return 1
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
