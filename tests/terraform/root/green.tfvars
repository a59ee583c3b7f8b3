live_color = "green"
