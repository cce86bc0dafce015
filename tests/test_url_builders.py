"""The URL builders tests/conftest.py shares between apps are the ones werkzeug makes."""

from werkzeug.routing.rules import Rule


def test_every_rule_builds_with_the_code_werkzeug_makes_for_it(app):
    original = Rule._compile_builder.werkzeug_original
    rules = list(app.url_map.iter_rules())
    assert len(rules) > 100
    for rule in rules:
        for append_unknown, bound in ((False, rule._build), (True, rule._build_unknown)):
            own = original(rule, append_unknown)
            assert bound.__func__.__code__.co_code == own.__code__.co_code, rule.rule
            assert bound.__func__.__code__.co_consts == own.__code__.co_consts, rule.rule
            assert bound.__func__.__code__.co_varnames == own.__code__.co_varnames, rule.rule


def test_urls_with_converters_and_query_strings_build_as_before(app):
    with app.test_request_context():
        from flask import url_for

        assert url_for("admin.export_csv", gathering_id=7, q="Åse") == \
            "/arrangor/samlinger/7/pameldinger.csv?q=%C3%85se"
        assert url_for("admin.export_xlsx", gathering_id=12) == "/arrangor/samlinger/12/pameldinger.xlsx"
