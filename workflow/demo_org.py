"""The demo organisation (华东建设集团): units, people and roles as data, and the function that seeds them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.org.names import name_keys
from workflow.store.models import AdminGrant, MainAdmin, RoleMembership, Unit, User

#: The account whose presence means the demo organisation is already seeded.
SENTINEL_LOGIN = "wangfang"
MAIL_DOMAIN = "hdjs.example.com"


@dataclass(frozen=True)
class DemoUnit:
    code: str
    name: str
    #: company (the root) | department | project | branch | subsidiary
    kind: str
    parent: str | None


@dataclass(frozen=True)
class DemoPerson:
    login: str
    name: str
    unit: str
    post: str
    mobile: str
    #: each held in the person's own unit, or in another with ``role@unit`` (the GM heads ``hq``)
    roles: tuple[str, ...] = ()


UNITS: tuple[DemoUnit, ...] = (
    DemoUnit("hq", "华东建设集团有限公司", "company", None),
    DemoUnit("leaders", "公司领导", "department", "hq"),
    DemoUnit("office", "办公室", "department", "hq"),
    DemoUnit("hr", "人力资源部", "department", "hq"),
    DemoUnit("finance", "财务部", "department", "hq"),
    DemoUnit("legal", "法务部", "department", "hq"),
    DemoUnit("engineering", "工程管理部", "department", "hq"),
    DemoUnit("project1", "第一项目部", "project", "hq"),
    DemoUnit("south", "华南分公司", "branch", "hq"),
)

P = DemoPerson
PEOPLE: tuple[DemoPerson, ...] = (
    # 公司领导
    P("zhangjianguo", "张建国", "leaders", "总经理", "13801710001",
      ("general_manager", "unit_head", "unit_head@hq")),
    P("chenzhiqiang", "陈志强", "leaders", "副总经理", "13801710002", ("deputy_director",)),
    P("liuhaitao", "刘海涛", "leaders", "副总经理", "13801710003", ("deputy_director",)),
    # 办公室
    P("liming", "李明", "office", "办公室主任", "13901720001", ("office_director", "unit_head")),
    P("wangfang", "王芳", "office", "收文员", "13901720002", ("clerk",)),
    P("zhaomin", "赵敏", "office", "档案管理员", "13901720003", ("archivist",)),
    P("sunli", "孙丽", "office", "印章管理员", "13901720004", ("seal_keeper",)),
    P("zhouwei", "周伟", "office", "信息化专员", "13901720005"),
    P("wujing", "吴静", "office", "文秘", "13901720006"),
    # 人力资源部
    P("zhengjie", "郑洁", "hr", "人力资源部部长", "13701730001", ("unit_head", "hr")),
    P("fenglei", "冯磊", "hr", "人事专员", "13701730002", ("hr",)),
    P("songjia", "宋佳", "hr", "培训专员", "13701730003"),
    # 财务部
    P("qianxuejun", "钱学军", "finance", "财务部部长", "13601740001", ("unit_head",)),
    P("linxiaoyan", "林晓燕", "finance", "财务主管", "13601740002", ("finance",)),
    P("huangyong", "黄勇", "finance", "会计", "13601740003", ()),
    P("mali", "马丽", "finance", "出纳", "13601740004"),
    # 法务部
    P("yangfan", "杨帆", "legal", "法务部部长", "13501750001", ("unit_head", "legal")),
    P("heting", "何婷", "legal", "法务专员", "13501750002", ()),
    # 工程管理部
    P("huzhigang", "胡志刚", "engineering", "工程管理部部长", "15001760001", ("unit_head",)),
    P("gaofeng", "高峰", "engineering", "工程师", "15001760002"),
    P("luobin", "罗斌", "engineering", "安全员", "15001760003"),
    P("liangxue", "梁雪", "engineering", "造价员", "15001760004"),
    # 第一项目部
    P("xiejun", "谢军", "project1", "项目经理", "15801770001", ("unit_head",)),
    P("hanmei", "韩梅", "project1", "资料员", "15801770002", ("clerk",)),
    P("tanghao", "唐浩", "project1", "技术负责人", "15801770003"),
    P("caoyang", "曹阳", "project1", "施工员", "15801770004"),
    # 华南分公司
    P("dengjianhua", "邓建华", "south", "分公司经理", "18601780001", ("unit_head",)),
    P("yuanli", "袁丽", "south", "综合办文员", "18601780002", ("clerk",)),
    P("pengtao", "彭涛", "south", "市场经理", "18601780003"),
    P("jianghong", "蒋红", "south", "会计", "18601780004"),
)  # fmt: skip
del P

#: The main administrator (Art. 29-30) and the sub-administrators with their scopes (Art. 31):
#: login → (capability, unit code) pairs, each capability over that unit's subtree.
MAIN_ADMIN = "zhouwei"
SUB_ADMINS: dict[str, tuple[tuple[str, str], ...]] = {
    # HR for the whole company: people and units, sign-in statistics
    "fenglei": (("people", "hq"), ("stats", "hq")),
    # 财务部 only: its people, its statistics
    "linxiaoyan": (("people", "finance"), ("stats", "finance")),
}


def _role_and_unit(person: DemoPerson, held: str) -> tuple[str, str]:
    """``"clerk"`` → (clerk, the person's unit); ``"unit_head@hq"`` → (unit_head, hq)."""
    role, _, unit = held.partition("@")
    return role, unit or person.unit


def seed_organisation(session: Session) -> dict[str, int]:
    """Write the demo units, people and role memberships; return login → user id.

    Idempotent: if the sentinel account exists nothing is written and the existing ids are
    returned. Passwords stay unset (``password_hash`` None).
    """
    logins = [p.login for p in PEOPLE]
    if session.scalar(select(User.id).where(User.login == SENTINEL_LOGIN)) is not None:
        rows = session.execute(select(User.login, User.id).where(User.login.in_(logins)))
        return {login: user_id for login, user_id in rows}
    units = _seed_units(session)
    users = _seed_users(session, units)
    _seed_roles(session, units, users)
    _seed_admins(session, units, users)
    return {login: users[login].id for login in logins}


def _seed_units(session: Session) -> dict[str, Unit]:
    units: dict[str, Unit] = {}
    for spec in UNITS:  # parents come before their children
        parent_id = units[spec.parent].id if spec.parent else None
        unit = Unit(code=spec.code, name=spec.name, kind=spec.kind, parent_id=parent_id)
        session.add(unit)
        session.flush()
        units[spec.code] = unit
    return units


def _seed_users(session: Session, units: dict[str, Unit]) -> dict[str, User]:
    users = {
        p.login: User(
            login=p.login,
            name=p.name,
            mobile=p.mobile,
            email=f"{p.login}@{MAIL_DOMAIN}",
            unit_id=units[p.unit].id,
            post=p.post,
            status="active",
            password_hash=None,
            pinyin=name_keys(p.name)[0],
            initials=name_keys(p.name)[1],
        )
        for p in PEOPLE
    }
    session.add_all(users.values())
    session.flush()
    return users


def _seed_roles(session: Session, units: dict[str, Unit], users: dict[str, User]) -> None:
    for person in PEOPLE:
        for held in person.roles:
            role, unit = _role_and_unit(person, held)
            session.add(
                RoleMembership(user_id=users[person.login].id, role=role, unit_id=units[unit].id)
            )
    session.flush()


def _seed_admins(session: Session, units: dict[str, Unit], users: dict[str, User]) -> None:
    now = datetime.now(UTC)
    session.add(MainAdmin(id=1, user_id=users[MAIN_ADMIN].id, since=now))
    for login, grants in SUB_ADMINS.items():
        for capability, unit in grants:
            session.add(AdminGrant(user_id=users[login].id, capability=capability,
                                   unit_id=units[unit].id, granted_at=now))  # fmt: skip
    session.flush()


def demo_admins() -> list[tuple[str, str]]:
    """(login, what they administer) for the README's table of administrators."""
    unit_names = {u.code: u.name for u in UNITS}
    rows = [(MAIN_ADMIN, "main administrator (主管理员): everything")]
    for login, grants in SUB_ADMINS.items():
        caps: dict[str, list[str]] = {}
        for capability, unit in grants:
            caps.setdefault(unit_names[unit], []).append(capability)
        said = "; ".join(f"{', '.join(c)} in {u}" for u, c in caps.items())
        rows.append((login, f"sub-administrator (子管理员): {said}"))
    return rows


def demo_accounts() -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(login, name, unit name, roles) for every demo person, for the README's account table."""
    unit_names = {u.code: u.name for u in UNITS}
    return [(p.login, p.name, unit_names[p.unit], _role_names(p)) for p in PEOPLE]


def _role_names(person: DemoPerson) -> tuple[str, ...]:
    """The person's roles without their units, each once, in the order given."""
    return tuple(dict.fromkeys(_role_and_unit(person, held)[0] for held in person.roles))
