"""Constants shared by the deployment clients (values are MLflow's)."""

# Status codes the deployment clients retry. Unlike the tracking client's list, timeouts are not
# retried: a provider that times out once will usually time out again on the same query.
MLFLOW_DEPLOYMENT_CLIENT_REQUEST_RETRY_CODES = frozenset([429, 500, 502, 503])

# Routes of the MLflow AI gateway ("deployments server").
MLFLOW_DEPLOYMENTS_HEALTH_ENDPOINT = "/health"
MLFLOW_DEPLOYMENTS_CRUD_ENDPOINT_BASE = "/api/2.0/endpoints/"
MLFLOW_DEPLOYMENTS_LIMITS_BASE = "/api/2.0/endpoints/limits/"
MLFLOW_DEPLOYMENTS_ENDPOINTS_BASE = "/endpoints/"
MLFLOW_DEPLOYMENTS_QUERY_SUFFIX = "/invocations"
MLFLOW_DEPLOYMENTS_LIST_ENDPOINTS_PAGE_SIZE = 3000

# Databricks serving endpoints.
DATABRICKS_SERVING_ENDPOINTS_PREFIX = "/api/2.0"
DATABRICKS_CLIENT_HEADER = "X-Databricks-Endpoints-API-Client"
DATABRICKS_CLIENT_HEADER_VALUE = "Databricks Deployment Client"

# OpenAI.
OPENAI_DEFAULT_API_BASE = "https://api.openai.com/v1"
OPENAI_AZURE_API_TYPES = ("azure", "azure_ad", "azuread")
