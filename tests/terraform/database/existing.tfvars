name          = "kit-test"
create        = false
existing_host = "db.internal.example.test"
existing_port = 6432
