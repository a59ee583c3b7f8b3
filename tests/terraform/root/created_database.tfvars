# The production shape of the database on top of the local tfvars: an RDS instance instead of an existing host.
database = {
  create              = true
  deletion_protection = false
}
