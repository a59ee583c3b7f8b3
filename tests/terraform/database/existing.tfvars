name          = "kit-test"
create        = false
existing_host = "db.internal.example.test"
existing_port = 6432
# During the move to a role per colour: the shared role's secret is kept beside the colours' own
shared_app_secret = true
