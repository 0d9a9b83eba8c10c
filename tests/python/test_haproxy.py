"""Several Viaduc instances behind HAProxy, as docs/deployment.md describes.

Two instances with the same configuration (only the listen port differs) sit behind one HAProxy that
terminates TLS and re-encrypts to them. Checks:
  - both instances answer Autodiscover identically (nothing instance-specific leaks into answers);
  - exchangelib's Autodiscover through the balancer gets the balancer's EWS URL;
  - EWS ids issued by one instance are accepted by the other (stateless ids);
  - when one instance stops, requests through HAProxy keep succeeding.
Everything listens on 127.0.0.1 only.
"""
import shutil
import subprocess
import time

import pytest
import requests

from conftest import TESTENV, Viaduc, free_port, viaduc_binary
from test_autodiscover import trust_stack_ca  # noqa: F401  (fixture: exchangelib trusts the stack CA)

POX = ("<?xml version=\"1.0\" encoding=\"utf-8\"?><Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/"
       "autodiscover/outlook/requestschema/2006\"><Request><EMailAddress>{addr}</EMailAddress>"
       "<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/"
       "2006a</AcceptableResponseSchema></Request></Autodiscover>")

SOAP = ("<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/"
        "envelope/\" xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\" xmlns:m=\"http://"
        "schemas.microsoft.com/exchange/services/2006/messages\"><soap:Header><t:RequestServerVersion "
        "Version=\"Exchange2016\"/></soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>")


def haproxy_config(front_port, pem, ca, backends):
    servers = "\n".join(
        f"    server v{i} 127.0.0.1:{port} ssl verify required ca-file {ca} check inter 500 fall 1 rise 1 cookie v{i}"
        for i, port in enumerate(backends, 1))
    return f"""global
    maxconn 256

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 2
    option redispatch

frontend exchange
    bind 127.0.0.1:{front_port} ssl crt {pem} alpn http/1.1
    default_backend viaduc

backend viaduc
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    cookie VIADUCSRV insert indirect nocache httponly secure
{servers}
"""


@pytest.fixture(scope="module")
def cluster(stack, tmp_path_factory):
    if not shutil.which("haproxy"):
        pytest.fail("haproxy is not installed (testenv/install.sh installs it)", pytrace=False)
    work = tmp_path_factory.mktemp("haproxy")
    front = free_port()
    public_url = f"https://127.0.0.1:{front}"
    binary = viaduc_binary()
    instances = []
    for _ in range(2):
        port = free_port()
        text = subprocess.run([str(TESTENV / "gen-config.sh"), str(stack.dir), str(port)],
                              capture_output=True, text=True, check=True).stdout
        # Same configuration everywhere except the listen port: the public URL is the balancer's.
        text = text.replace(f'public_url = "https://127.0.0.1:{port}"', f'public_url = "{public_url}"')
        cfg = work / f"viaduc-{port}.toml"
        cfg.write_text(text)
        v = Viaduc(stack, port, binary, cfg, work / f"viaduc-{port}.log")
        v.start(60)
        instances.append(v)
    pem = work / "front.pem"
    pem.write_text((stack.dir / "tls" / "cert.pem").read_text() + (stack.dir / "tls" / "key.pem").read_text())
    conf = work / "haproxy.cfg"
    conf.write_text(haproxy_config(front, pem, stack.ca_file, [v.port for v in instances]))
    log = open(work / "haproxy.log", "ab")
    proxy = subprocess.Popen(["haproxy", "-db", "-f", str(conf)], stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    session = requests.Session()
    session.trust_env = False
    session.verify = str(stack.ca_file)
    deadline = time.time() + 20
    while True:
        try:
            if session.get(public_url + "/healthz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        if time.time() > deadline or proxy.poll() is not None:
            pytest.fail(f"HAProxy did not come up: {(work / 'haproxy.log').read_text()}", pytrace=False)
        time.sleep(0.2)
    yield {"url": public_url, "instances": instances, "proxy": proxy, "work": work}
    proxy.terminate()
    proxy.wait(timeout=10)
    for v in instances:
        v.stop()


def pox(session, url, addr):
    return session.post(url + "/autodiscover/autodiscover.xml", data=POX.format(addr=addr),
                        headers={"Content-Type": "text/xml", "X-MapiHttpCapability": "1"}, timeout=30)


def test_instances_answer_identically(stack, cluster):
    a, b = cluster["instances"]
    answers = []
    for v in (a, b):
        r = pox(v.session("alice@example.test"), v.url, "alice@example.test")
        assert r.status_code == 200, r.text
        answers.append(r.text)
    assert answers[0] == answers[1]
    # The URLs handed out name the balancer, not the instance.
    assert cluster["url"] + "/EWS/Exchange.asmx" in answers[0]
    assert f"127.0.0.1:{a.port}" not in answers[0]


def test_requests_through_the_balancer_reach_both_instances(stack, cluster):
    s = requests.Session()
    s.trust_env = False
    s.verify = str(stack.ca_file)
    s.auth = ("bob@example.test", stack.password)
    for _ in range(6):
        r = pox(s, cluster["url"], "bob@example.test")
        assert r.status_code == 200, r.text
        assert "<AutoDiscoverSMTPAddress>bob@example.test</AutoDiscoverSMTPAddress>" in r.text
        s.cookies.clear()  # no affinity: round robin alternates instances
    served = [v.log_tail(400).count("autodiscover_pox") for v in cluster["instances"]]
    assert all(n > 0 for n in served), served


def test_exchangelib_autodiscover_through_the_balancer(stack, cluster, trust_stack_ca):
    from exchangelib import Configuration, Credentials
    from exchangelib.autodiscover import AutodiscoverProtocol

    endpoint = cluster["url"] + "/autodiscover/autodiscover.svc"
    creds = Credentials("carol@example.test", stack.password)
    protocol = AutodiscoverProtocol(config=Configuration(service_endpoint=endpoint, credentials=creds))
    ur = protocol.get_user_settings(user="carol@example.test")
    ur.raise_errors()
    assert ur.ews_url == cluster["url"] + "/EWS/Exchange.asmx"
    assert ur.autodiscover_smtp_address == "carol@example.test"


def ews(session, url, body):
    r = session.post(url + "/EWS/Exchange.asmx", data=SOAP.format(body=body),
                     headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.text


def test_ews_ids_work_on_every_instance(stack, cluster):
    import re

    a, b = cluster["instances"]
    find = ("<m:FindItem Traversal=\"Shallow\"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
            "<m:IndexedPageItemView MaxEntriesReturned=\"5\" Offset=\"0\" BasePoint=\"Beginning\"/>"
            "<m:ParentFolderIds><t:DistinguishedFolderId Id=\"inbox\"/></m:ParentFolderIds></m:FindItem>")
    text = ews(a.session("alice@example.test"), a.url, find)
    assert 'ResponseClass="Success"' in text, text
    ids = re.findall(r'ItemId Id="([^"]+)"', text)
    assert ids, text
    get = ("<m:GetItem><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:ItemIds>"
           + "".join(f"<t:ItemId Id=\"{i}\"/>" for i in ids) + "</m:ItemIds></m:GetItem>")
    on_b = ews(b.session("alice@example.test"), b.url, get)
    assert on_b.count('ResponseClass="Success"') == len(ids), on_b
    # Same ids again from B's own FindItem: the ids are derived, not allocated per instance.
    assert re.findall(r'ItemId Id="([^"]+)"', ews(b.session("alice@example.test"), b.url, find)) == ids


def test_one_instance_down_the_balancer_keeps_serving(stack, cluster):
    s = requests.Session()
    s.trust_env = False
    s.verify = str(stack.ca_file)
    s.auth = ("alice@example.test", stack.password)
    first = cluster["instances"][0]
    first.stop()
    for _ in range(6):
        r = pox(s, cluster["url"], "alice@example.test")
        assert r.status_code == 200, r.text
        s.cookies.clear()
