# 10% of live traffic to green while blue stays live.
live_color     = "blue"
canary_percent = 10
