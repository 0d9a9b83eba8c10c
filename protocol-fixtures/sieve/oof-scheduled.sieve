# viaduc:oof begin
# Out-of-office reply managed by Viaduc (Outlook, EWS); it rewrites this script when the settings change.
# viaduc:oof-settings {"v":1,"state":"scheduled","start":"2026-12-01T08:00:00Z","end":"2026-12-24T17:30:00Z","external_audience":"all","internal_reply":"Back on Monday.\nAsk \"Bob\" \\ Carol.","external_reply":"<html><body><p>I am away &amp; back <b>Monday</b>.</p><p>Regards</p></body></html>"}
require ["vacation", "date", "relational"];
if allof (currentdate :zone "+0000" :value "ge" "iso8601" "2026-12-01T08:00:00",
          currentdate :zone "+0000" :value "lt" "iso8601" "2026-12-24T17:30:00") {
    if address :domain :is "from" ["example.test", "example.org"] {
        vacation :days 1 :handle "viaduc-oof-int-5334348a883ec724" :addresses ["bob@example.test"] "Back on Monday.
Ask \"Bob\" \\ Carol.";
    } else {
        vacation :days 1 :handle "viaduc-oof-ext-5334348a883ec724" :addresses ["bob@example.test"] "I am away & back Monday.

Regards";
    }
}
# viaduc:oof end
