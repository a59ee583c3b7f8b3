# Only blue exists: green plans nothing and the live name has a single record.
green = {
  enabled = false
  image   = "public.ecr.aws/nginx/nginx:1.27"
}
