# Each colour's tasks start only once migrate has set up the database role they log in as (its own role, or the
# shared one during the move to a role per colour). Until then a task could not log in: it would fail its
# health checks, and the circuit breaker would give up on the service.
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
  # The role each colour's containers log in as, and the secret they read it from.
  _login = {
    for color, stack in { blue = var.blue, green = var.green } : color => stack.database_role == "shared" ? {
      role                     = module.database.app_username, secret = module.database.app_secret_arn
      } : {
      role = lookup(module.database.app_role_names, color, null), secret = lookup(module.database.app_secret_arns, color, null)
    }
  }
  # Known at plan time when the role is not recorded (the secret's ARN is not known before the first apply).
  role_ready = {
    for color, login in local._login : color => login.role == null ? false : (
      contains(keys(local.roles_ready), login.role) ? local.roles_ready[login.role] == login.secret : false
    )
  }
}
