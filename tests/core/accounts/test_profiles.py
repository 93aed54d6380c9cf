"""Sign-up, profiles as a viewer sees them, updates, listing and sessions (core)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import Account, make_account
from thingport.core.accounts.models import ApiKey, User
from thingport.core.accounts.schemas import Principal, ProfileInput, Role
from thingport.kit.errors import InvalidFields, NotFound, Problem, Unauthenticated
from thingport.kit.listing import Filter, ListQuery, SortKey
from thingport.platform import Platform

ADMIN = Principal(user_id=10_000, username="root", role=Role.ADMIN)


def _input(**fields: str | None) -> ProfileInput:
    base: dict[str, str | None] = {
        "username": "ann",
        "email": "ann@example.com",
        "password": "long enough",
    }
    return ProfileInput(**(base | fields))


async def _user_count(platform: Platform) -> int:
    async with platform.db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(User))).scalar_one())


async def test_register_stores_the_profile_and_hides_the_email_from_others(
    platform: Platform,
) -> None:
    async with platform.core() as core:
        anonymous_view = await core.accounts.register_user(
            _input(city="Barcelona", country_code="es", url="https://ann.example.com")
        )
    assert anonymous_view.email is None
    assert not anonymous_view.authorized
    assert anonymous_view.country_code == "ES"
    ann = Principal(user_id=anonymous_view.id, username="ann")
    async with platform.core() as core:
        own = await core.accounts.profile(ann, ann.user_id)
        admin = await core.accounts.profile(ADMIN, ann.user_id)
        other = await core.accounts.profile(Principal(user_id=999, username="x"), ann.user_id)
        assert (await core.accounts.start_session("ann", "long enough")).name == "session"
    assert own.email == admin.email == "ann@example.com"
    assert own.authorized
    assert admin.authorized
    assert other.email is None
    assert not other.authorized


async def test_register_reports_every_problem_at_once_and_stores_nothing(
    platform: Platform, alice: Account
) -> None:
    async with platform.core() as core:
        with pytest.raises(InvalidFields) as raised:
            await core.accounts.register_user(
                _input(
                    username="ALICE",
                    email="not-an-email",
                    password="short",
                    country_code="ESP",
                    url="ftp://example.com",
                    avatar_url="nope",
                    city="x" * 101,
                )
            )
    assert raised.value.problems == {
        "username": [Problem.taken()],
        "email": [Problem.invalid("email", "an e-mail address")],
        "password": [Problem.too_short(8)],
        "city": [Problem.too_long(100)],
        "country_code": [Problem.invalid("country_code", "two letters")],
        "url": [Problem.invalid("web_url", "an http or https URL")],
        "avatar_url": [Problem.invalid("web_url", "an http or https URL")],
    }
    assert raised.value.fields["password"] == ["must be at least 8 characters long"]
    assert await _user_count(platform) == 1


async def test_register_refuses_a_taken_email_whatever_its_case(
    platform: Platform, alice: Account
) -> None:
    async with platform.core() as core:
        with pytest.raises(InvalidFields) as raised:
            await core.accounts.register_user(_input(email="Alice@Example.com"))
    assert raised.value.problems == {"email": [Problem.taken()]}


async def test_blank_required_fields_cannot_be_blank(platform: Platform) -> None:
    async with platform.core() as core:
        with pytest.raises(InvalidFields) as raised:
            await core.accounts.register_user(ProfileInput(username=" ", email=None))
    assert raised.value.problems == {
        "username": [Problem.blank()],
        "email": [Problem.blank()],
        "password": [Problem.blank()],
    }


async def test_update_changes_only_the_fields_given(platform: Platform) -> None:
    async with platform.core() as core:
        created = await core.accounts.register_user(_input(city="Paris", first_name="Ann"))
    ann = Principal(user_id=created.id, username="ann")
    async with platform.core() as core:
        updated = await core.accounts.update_profile(
            ann, ProfileInput(city="Lyon", last_name=None, password="another secret")
        )
    assert (updated.city, updated.first_name, updated.last_name) == ("Lyon", "Ann", None)
    assert updated.updated_at >= created.updated_at
    async with platform.core() as core:
        with pytest.raises(Unauthenticated):
            await core.accounts.start_session("ann", "long enough")
    async with platform.core() as core:
        await core.accounts.start_session("ann", "another secret")


async def test_update_refuses_a_name_someone_else_has_but_not_ones_own(
    platform: Platform, alice: Account, bob: Account
) -> None:
    async with platform.core() as core:
        with pytest.raises(InvalidFields) as raised:
            await core.accounts.update_profile(alice.principal, ProfileInput(username="Bob"))
        same = await core.accounts.update_profile(
            alice.principal, ProfileInput(username="alice", email="ALICE@example.com")
        )
    assert raised.value.problems == {"username": [Problem.taken()]}
    assert same.username == "alice"


async def test_find_profile_by_id_or_username(platform: Platform, alice: Account) -> None:
    await make_account(platform, "jo.doe")
    async with platform.core() as core:
        by_id = await core.accounts.find_profile(None, str(alice.principal.user_id))
        by_name = await core.accounts.find_profile(None, "jo.doe")
        with pytest.raises(NotFound) as by_missing_id:
            await core.accounts.find_profile(None, "999")
        with pytest.raises(NotFound) as by_missing_name:
            await core.accounts.find_profile(None, "nobody")
    assert (by_missing_id.value.entity, by_missing_id.value.by) == ("user", "id")
    assert by_missing_id.value.key == "999"
    assert (by_missing_name.value.entity, by_missing_name.value.by) == ("user", "name")
    assert by_missing_name.value.key == "nobody"
    assert by_id.username == "alice"
    assert by_name.username == "jo.doe"


async def test_list_users_filters_sorts_and_counts(platform: Platform) -> None:
    for name in ("amy", "ben", "bea", "cal"):
        await make_account(platform, name)
    async with platform.core() as core:
        page = await core.accounts.list_users(
            None,
            ListQuery(
                filters=(Filter("username", "start", "b"),),
                sort=(SortKey("username", descending=True),),
                limit=1,
            ),
        )
    assert page.total == 2
    assert [u.username for u in page.items] == ["ben"]


async def test_list_users_cannot_filter_on_private_fields(platform: Platform) -> None:
    async with platform.core() as core:
        with pytest.raises(Exception, match="cannot filter on 'email'"):
            await core.accounts.list_users(
                None, ListQuery(filters=(Filter("email", "eq", "a@example.com"),))
            )


async def test_start_session_by_email_in_any_case_issues_a_new_token(
    platform: Platform,
) -> None:
    await make_account(platform, "dan", password="dans password")
    async with platform.core() as core:
        first = await core.accounts.start_session("DAN@example.com", "dans password")
        second = await core.accounts.start_session("Dan", "dans password")
        assert (await core.accounts.authenticate_token(first.token)).username == "dan"
        with pytest.raises(Unauthenticated) as wrong:
            await core.accounts.start_session("dan", "not dans password")
        with pytest.raises(NotFound):
            await core.accounts.start_session("nobody", "dans password")
    assert first.token != second.token
    assert wrong.value.field == "password"
    async with platform.db.sessions() as session:
        names = (await session.execute(select(ApiKey.name))).scalars().all()
    assert sorted(names) == ["session", "session", "test"]


async def test_a_duplicate_the_check_missed_is_refused_by_the_index(
    platform: Platform, alice: Account
) -> None:
    """What a concurrent sign-up looks like once the service's own check has passed: the unique
    index refuses the row, the service reports the field, and nothing is stored."""
    with pytest.raises(InvalidFields) as refused:
        async with platform.core() as core:
            twin = User(username="alice-twin", email="alice@example.com", role="user")
            assert await core.accounts.repo.save_user(twin) is False
            raise InvalidFields({"username": [Problem.taken()]})
    assert refused.value.problems == {"username": [Problem.taken()]}
    async with platform.core() as core:
        assert await core.accounts.repo.user_by_username("alice-twin") is None
        assert await core.accounts.repo.save_user(
            User(username="zed", email="zed@example.com", role="user")
        )
    async with platform.core() as core:
        assert await core.accounts.repo.user_by_username("zed") is not None
