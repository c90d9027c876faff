"""API keys with roles, stored as the SHA-256 of their secret."""

from leakshield.apikeys._keys import (
    ROLES,
    ApiKey,
    ApiKeyError,
    ApiKeys,
    Role,
    role_allows,
)

__all__ = ["ROLES", "ApiKey", "ApiKeyError", "ApiKeys", "Role", "role_allows"]
