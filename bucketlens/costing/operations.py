"""Which S3 request-pricing tier an access-log operation falls into, and whether it is billed at all.

Why this exists: the bill charges requests by *tier*, the access log names *operations*. S3's list prices
(price book, `requests_per_1000`) charge "PUT, COPY, POST, LIST requests" at the Tier-1 rate and "GET,
SELECT, and all other requests" at the Tier-2 rate; "DELETE and CANCEL requests are free"; restores
(`REST.POST.RESTORE`) and lifecycle transitions have their own per-request prices; other lifecycle actions
performed by S3 itself (`S3.EXPIRE.*`, `S3.CREATE.DELETEMARKER`, …) cost nothing per request. To split a
`Requests-Tier1` line item over users we count each user's Tier-1 operations, so the mapping must agree
with AWS's grouping. The rules live in one ordered table (``TIER_RULES``) from which both the DuckDB
expression and the Python twin are generated, so the two cannot drift.

Billable: 5xx responses are never billed; since 2024-05-13 a 403 (AccessDenied) initiated outside the
owner's account or organization is not billed either. The access log's requester names an IAM or STS ARN
that carries its account id (``arn:aws:iam::123456789012:user/x``, ``arn:aws:sts::…:assumed-role/…``), so
with the owner's account ids (``BUCKETLENS_ACCOUNT_IDS``, or the usage accounts of the cost export) a 403
from any other account is unbilled. Anonymous 403s (requester ``-`` or NULL) are unbilled too. A 403
whose requester carries no account id (a canonical user id), or any 403 while the owner's accounts are
unknown, stays billed: nothing proves it came from outside.
"""

from __future__ import annotations

import re
from collections.abc import Collection

TIER1 = "tier1"
TIER2 = "tier2"
RESTORE = "restore"
LIFECYCLE = "lifecycle"
FREE = "free"
TIERS = (TIER1, TIER2, RESTORE, LIFECYCLE, FREE)

# Ordered (regex over the upper-cased operation, tier); first match wins; no match -> tier2 ("all other").
TIER_RULES: tuple[tuple[str, str], ...] = (
    # deletes and cancels are free, including multi-object delete and its per-key BATCH records
    (r"REST\.DELETE\..*", FREE),
    (r"REST\.POST\.MULTI_OBJECT_DELETE", FREE),
    (r"BATCH\.DELETE\..*", FREE),
    # restores of archived objects have their own per-request price
    (r"REST\.POST\.RESTORE", RESTORE),
    # S3 Select is billed as a GET-class ("SELECT") request
    (r"REST\.POST\.SELECT.*", TIER2),
    # lifecycle transitions are billed per transition at the target class's rate
    (r"S3\.TRANSITION.*", LIFECYCLE),
    # anything else S3 does by itself (expiry, delete markers, restore completion) is free
    (r"S3\..*", FREE),
    (r"BATCH\..*", FREE),
    # PUT, COPY, POST (incl. multipart: REST.PUT.PART, REST.POST.UPLOADS, REST.POST.UPLOAD)
    (r"REST\.(PUT|COPY|POST)\..*", TIER1),
    # LIST: ListObjects(V2) and versions, ListBuckets, ListMultipartUploads, ListParts
    (r"REST\.GET\.(BUCKET|BUCKETVERSIONS|SERVICE|UPLOADS|UPLOAD)", TIER1),
    # GET, HEAD, OPTIONS, website GETs and everything else
    (r"(REST|WEBSITE)\..*", TIER2),
)


def request_tier(operation: str | None) -> str:
    """Python twin of :func:`request_tier_sql` (for tests and one-off checks)."""
    if operation is None or operation.strip() in ("", "-"):
        return FREE
    op = operation.strip().upper()
    for pattern, tier in TIER_RULES:
        if re.fullmatch(pattern, op):
            return tier
    return TIER2


def request_tier_sql(operation_col: str) -> str:
    """A DuckDB CASE expression giving the billing tier of the access-log operation in ``operation_col``.

    A NULL, empty or ``-`` operation is ``free`` (nothing identifiable was billed); an unrecognised one is
    ``tier2``, AWS's "all other requests".
    """
    op = f"upper(trim({operation_col}))"
    whens = "\n".join(
        f"    WHEN regexp_full_match({op}, '{pattern}') THEN '{tier}'" for pattern, tier in TIER_RULES
    )
    return (
        f"(CASE\n    WHEN {operation_col} IS NULL OR trim({operation_col}) IN ('', '-') THEN '{FREE}'\n"
        f"{whens}\n    ELSE '{TIER2}'\nEND)"
    )


# Operations that remove an object version: the weight for early-delete fees.
DELETE_OPERATION_REGEX = r"REST\.DELETE\.OBJECT|BATCH\.DELETE\.OBJECT|S3\.EXPIRE\.OBJECT"


def is_delete_operation(operation: str | None) -> bool:
    """Whether the operation removes an object version (the weight for early-delete fees)."""
    return (
        operation is not None and re.fullmatch(DELETE_OPERATION_REGEX, operation.strip().upper()) is not None
    )


def is_delete_sql(operation_col: str) -> str:
    """DuckDB boolean expression twin of :func:`is_delete_operation`."""
    return f"coalesce(regexp_full_match(upper(trim({operation_col})), '{DELETE_OPERATION_REGEX}'), false)"


# The account id inside an IAM or STS principal ARN (any partition: aws, aws-cn, aws-us-gov).
REQUESTER_ACCOUNT_REGEX = r"^arn:aws[a-z-]*:(?:iam|sts)::([0-9]{12}):"


def requester_account(requester: str | None) -> str | None:
    """The AWS account id an access-log requester carries, or None (anonymous, canonical id, service)."""
    match = re.match(REQUESTER_ACCOUNT_REGEX, (requester or "").strip())
    return match.group(1) if match else None


def billable(
    http_status: int | str | None, requester: str | None, owner_accounts: Collection[str] = ()
) -> bool:
    """Python twin of :func:`billable_sql`."""
    try:
        status = int(http_status) if http_status not in (None, "", "-") else None
    except (TypeError, ValueError):
        status = None
    if status is not None and 500 <= status <= 599:
        return False
    if status != 403:
        return True
    if requester is None or requester.strip() in ("", "-"):
        return False
    account = requester_account(requester)
    return not (owner_accounts and account is not None and account not in owner_accounts)


# S3 -> CloudFront origin fetches: S3's access log shows CloudFront's user agent on them (and, under origin
# access control, CloudFront's service principal as the requester). S3 bills their bytes as
# CloudFront-Out-Bytes (free from an AWS origin), not as egress to the internet.
CLOUDFRONT_USER_AGENT = "Amazon CloudFront"
CLOUDFRONT_PRINCIPAL = "svc:cloudfront.amazonaws.com"


def cdn_origin_sql(user_agent_col: str, requester_col: str) -> str:
    """DuckDB boolean expression: is this access-log request CloudFront fetching from its S3 origin?"""
    return (
        f"(coalesce(trim({user_agent_col}), '') = '{CLOUDFRONT_USER_AGENT}' "
        f"OR coalesce(trim({requester_col}), '') = '{CLOUDFRONT_PRINCIPAL}')"
    )


def billable_sql(status_col: str, requester_col: str, owner_accounts_sql: str = "[]::VARCHAR[]") -> str:
    """DuckDB boolean expression: is this access-log request billed?

    5xx: not billed. 403 from an anonymous requester (``-``/NULL): not billed. 403 from a requester whose
    ARN names an account outside ``owner_accounts_sql`` (a ``VARCHAR[]`` expression, typically a bound
    parameter; empty: the owner's accounts are unknown) — not billed (AWS, since 2024-05). Everything else,
    including a missing status (lifecycle records): billed — whether it costs anything is the tier's
    business (:func:`request_tier_sql`).
    """
    status = f"TRY_CAST(NULLIF(trim(CAST({status_col} AS VARCHAR)), '-') AS INTEGER)"
    anonymous = f"({requester_col} IS NULL OR trim({requester_col}) IN ('', '-'))"
    account = f"nullif(regexp_extract(trim({requester_col}), '{REQUESTER_ACCOUNT_REGEX}', 1), '')"
    outside = (
        f"(len({owner_accounts_sql}) > 0 AND {account} IS NOT NULL "
        f"AND NOT list_contains({owner_accounts_sql}, {account}))"
    )
    return (
        f"(CASE WHEN {status} BETWEEN 500 AND 599 THEN false "
        f"WHEN {status} = 403 AND ({anonymous} OR {outside}) THEN false ELSE true END)"
    )
