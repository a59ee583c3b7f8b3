enabled = false
name    = "kit-test"
create  = true
