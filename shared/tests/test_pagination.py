"""limit/offset pagination over a real SQLite table."""

import pytest
from flask import Flask
from pydantic import BaseModel, ConfigDict
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Database, make_base
from shared.errors import Unprocessable
from shared.pagination import MAX_LIMIT, paginate

Base = make_base()


class Item(Base):
    __tablename__ = "items"
    id: Mapped[str] = mapped_column(String(8), primary_key=True)


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str


@pytest.fixture()
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'p.db'}")
    Base.metadata.create_all(database.engine)
    with database.session_factory() as session:
        session.add_all(Item(id=f"{i:03d}") for i in range(12))
        session.commit()
    yield database
    database.dispose()


def _page(db, query):
    with Flask(__name__).test_request_context(query), db.session_factory() as session:
        return paginate(session, select(Item).order_by(Item.id), ItemRead)


def test_envelope_and_window(db):
    page = _page(db, "/?limit=5&offset=10")
    assert page["items"] == [{"id": "010"}, {"id": "011"}]
    assert page["total"] == 12
    assert _page(db, "/")["items"][:2] == [{"id": "000"}, {"id": "001"}]


@pytest.mark.parametrize("query, field", [("/?limit=0", "limit"), (f"/?limit={MAX_LIMIT + 1}", "limit"),
                                          ("/?offset=-1", "offset"), ("/?limit=ten", "limit")])  # fmt: skip
def test_bad_values_name_the_field(db, query, field):
    with pytest.raises(Unprocessable) as exc:
        _page(db, query)
    assert exc.value.details[0]["field"] == field
