"""exchangelib (the Python EWS client) runs its SOAP Autodiscover (MS-OXWSADISC GetUserSettings) against Viaduc
and must come back with Viaduc's EWS URL and an EWS version it knows.

exchangelib finds the Autodiscover service from the e-mail domain (https://example.test/..., then
https://autodiscover.example.test/..., DNS SRV); none of those names exist here, so the tests point it at the
Viaduc under test: once through AutodiscoverProtocol directly, once through the whole Autodiscovery flow with
its first step aimed at Viaduc. TLS is verified against the stack's CA through a custom HTTP adapter
(BaseProtocol.HTTP_ADAPTER_CLS), never switched off.
"""
import pytest
import requests

from exchangelib import Configuration, Credentials
from exchangelib.autodiscover import AutodiscoverProtocol, Autodiscovery, clear_cache
from exchangelib.errors import ErrorNonExistentMailbox
from exchangelib.protocol import BaseProtocol


@pytest.fixture
def trust_stack_ca(viaduc, monkeypatch):
    """Make every exchangelib session verify TLS against the stack's CA; no proxies for loopback."""
    ca = str(viaduc.ca_file)

    class StackCAAdapter(requests.adapters.HTTPAdapter):
        def cert_verify(self, conn, url, verify, cert):
            super().cert_verify(conn=conn, url=url, verify=ca, cert=cert)

        def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
            return super().get_connection_with_tls_context(request=request, verify=ca, proxies=proxies, cert=cert)

    monkeypatch.setattr(BaseProtocol, "HTTP_ADAPTER_CLS", StackCAAdapter)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    clear_cache()
    yield
    clear_cache()


def _credentials(stack, user="alice"):
    return Credentials(stack.addr(user), stack.password)


def test_get_user_settings_gives_the_ews_url(viaduc, stack, trust_stack_ca):
    endpoint = f"{viaduc.url}/autodiscover/autodiscover.svc"
    protocol = AutodiscoverProtocol(config=Configuration(service_endpoint=endpoint, credentials=_credentials(stack)))
    # auth_type is detected from the 401 challenge of an unauthenticated request, as against Exchange.
    assert protocol.auth_type == "basic"

    ur = protocol.get_user_settings(user=stack.addr("alice"))
    ur.raise_errors()
    assert ur.error_code is None or ur.error_code == "NoError"
    assert ur.ews_url == f"{viaduc.url}/EWS/Exchange.asmx"
    assert ur.user_settings["internal_ews_url"] == f"{viaduc.url}/EWS/Exchange.asmx"
    assert ur.autodiscover_smtp_address == "alice@example.test"
    assert ur.user_settings["user_display_name"] == "Alice Anderson"
    assert ur.user_settings["mapi_http_enabled"] == "True"
    assert ur.version is not None and ur.version.api_version == "Exchange2016"

    # A colleague's mailbox is answered from the directory.
    ur = protocol.get_user_settings(user=stack.addr("bob"))
    assert ur.user_settings["user_display_name"] == "Bob Brown"
    assert ur.autodiscover_smtp_address == "bob@example.test"


def test_unknown_user_is_reported_as_such(viaduc, stack, trust_stack_ca):
    endpoint = f"{viaduc.url}/autodiscover/autodiscover.svc"
    protocol = AutodiscoverProtocol(config=Configuration(service_endpoint=endpoint, credentials=_credentials(stack)))
    ur = protocol.get_user_settings(user="nobody@example.test")
    assert ur.error_code == "InvalidUser"
    with pytest.raises(ErrorNonExistentMailbox):
        ur.raise_errors()


def test_full_autodiscovery_flow(viaduc, stack, trust_stack_ca):
    endpoint = f"{viaduc.url}/autodiscover/autodiscover.svc"

    class ViaducAutodiscovery(Autodiscovery):
        """exchangelib's discovery, with step 1 (https://<domain>/autodiscover/...) aimed at Viaduc."""

        def _ensure_valid_hostname(self, url):
            pass  # 127.0.0.1:PORT has no DNS name to check

        def _step_1(self, hostname):
            assert hostname == "example.test"
            ok, ad = self._attempt_response(url=endpoint)
            assert ok, "Viaduc's Autodiscover answer was not accepted"
            return self._step_5(ad=ad)

    ad, protocol = ViaducAutodiscovery(email=stack.addr("alice"), credentials=_credentials(stack)).discover()
    assert ad.ews_url == f"{viaduc.url}/EWS/Exchange.asmx"
    assert protocol.service_endpoint == f"{viaduc.url}/EWS/Exchange.asmx"
    assert protocol.config.version.api_version == "Exchange2016"
    assert ad.autodiscover_smtp_address == "alice@example.test"
