# env/local.tfvars as it is: both colours enabled, blue live.
