# viaduc:oof begin
# Out-of-office reply managed by Viaduc (Outlook, EWS); it rewrites this script when the settings change.
# viaduc:oof-settings {"v":1,"state":"enabled","external_audience":"all","internal_reply":"Back on Monday.\nAsk \"Bob\" \\ Carol.","external_reply":"<html><body><p>I am away &amp; back <b>Monday</b>.</p><p>Regards</p></body></html>"}
require ["vacation"];
if true {
    if address :domain :is "from" ["example.test", "example.org"] {
        vacation :days 1 :handle "viaduc-oof-int-ddf35c9c3ebea460" :addresses ["bob@example.test"] "Back on Monday.
Ask \"Bob\" \\ Carol.";
    } else {
        vacation :days 1 :handle "viaduc-oof-ext-ddf35c9c3ebea460" :addresses ["bob@example.test"] "I am away & back Monday.

Regards";
    }
}
# viaduc:oof end
