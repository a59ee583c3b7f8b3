# The colours' tasks start only once migrate has set up the database role they log in as. Until then a task
# could not log in: it would fail its health checks, and the circuit breaker would give up on the service.
#
# migrate records each role it sets up as a Parameter Store parameter <ready_path>/<role> whose value is that
# role's secret ARN (lambda/migrator/runner/readiness.py). A colour starts (desired_count from the tfvars)
# when its role is recorded with its current secret: a re-created environment (new secret) waits again.
# However many roles migrate sets up, each colour looks only for its own. Until then its desired count is 0,
# and the first deploy is: apply, make migrate, apply (README, "The first deploy").
data "aws_ssm_parameters_by_path" "roles_ready" {
  path            = local.roles_ready_path
  with_decryption = false
}

locals {
  roles_ready_path = "/${local.name_prefix}/migrator/roles-ready"
  # role name => the secret ARN migrate set it up from (values are marked sensitive by the data source; they
  # are ARNs, not secrets)
  roles_ready = {
    for index, name in data.aws_ssm_parameters_by_path.roles_ready.names :
    basename(name) => nonsensitive(data.aws_ssm_parameters_by_path.roles_ready.values[index])
  }
  app_role_ready = contains(keys(local.roles_ready), module.database.app_username) ? local.roles_ready[module.database.app_username] == module.database.app_secret_arn : false
}
