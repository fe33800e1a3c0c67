"""Moved to :mod:`mlflow.testing` (packaged, importable from any directory). This shim keeps old
imports working until every caller imports from there."""

from mlflow.testing import (  # noqa: F401
    DatabricksServer,
    Fault,
    GatewayEndpoint,
    GatewayServer,
    LoopbackServer,
    OpenAIServer,
    RecordedRequest,
    default_gateway_endpoints,
)
from mlflow.testing.gateway_server import (  # noqa: F401
    _FixedWindows,
    decode_page_token,
    encode_page_token,
)
from mlflow.testing.replies import (  # noqa: F401
    chat_chunks,
    chat_reply,
    chat_response,
    completion_reply,
    completions_chunks,
    completions_response,
    embedding_of,
    embeddings_response,
)
