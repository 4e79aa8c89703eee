"""Request and response bodies of the roles API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from gatewayz.accounts.permissions import MAX_INHERITS, PERMISSIONS, ROLE_NAME_PATTERN
from gatewayz.accounts.schemas import _Strict

MAX_USER_ROLES = 32
Name = Annotated[str, Field(min_length=1, max_length=64)]


class RoleCreate(_Strict):
    name: str = Field(min_length=2, max_length=64, pattern=ROLE_NAME_PATTERN, description="lower case, [a-z0-9_.-]")
    description: str | None = Field(None, max_length=500)
    permissions: list[Name] = Field(default_factory=list, max_length=len(PERMISSIONS))
    inherits: list[Name] = Field(default_factory=list, max_length=MAX_INHERITS,
                                 description="roles whose permissions this one holds too")


class RoleUpdate(_Strict):
    description: str | None = Field(None, max_length=500)
    permissions: list[Name] | None = Field(None, max_length=len(PERMISSIONS))
    inherits: list[Name] | None = Field(None, max_length=MAX_INHERITS)


class RoleOut(BaseModel):
    name: str
    description: str
    builtin: bool
    permissions: list[str]
    inherits: list[str]
    effective_permissions: list[str]


class RoleList(BaseModel):
    object: Literal["list"] = "list"
    data: list[RoleOut]


class PermissionOut(BaseModel):
    name: str
    description: str


class PermissionCatalog(BaseModel):
    object: Literal["list"] = "list"
    data: list[PermissionOut]


class UserRolesUpdate(_Strict):
    roles: list[Name] = Field(max_length=MAX_USER_ROLES)


class UserRolesOut(BaseModel):
    user_id: int
    roles: list[str]
    permissions: list[str]
