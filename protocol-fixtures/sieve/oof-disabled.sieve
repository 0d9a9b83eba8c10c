# viaduc:oof begin
# Out-of-office reply managed by Viaduc (Outlook, EWS); it rewrites this script when the settings change.
# viaduc:oof-settings {"v":1,"state":"disabled","external_audience":"all","internal_reply":"Back on Monday.\nAsk \"Bob\" \\ Carol.","external_reply":"<html><body><p>I am away &amp; back <b>Monday</b>.</p><p>Regards</p></body></html>"}
# viaduc:oof end
