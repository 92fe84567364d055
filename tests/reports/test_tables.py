def test_dump(tiny_results):
    import pandas as pd
    from reports.results import load_results
    pd.set_option("display.width", 250); pd.set_option("display.max_columns", 30); pd.set_option("display.max_colwidth", 60)
    r = load_results(tiny_results)
    print(r.leaderboard[["method","split","metric","value","n_clips","status","reason","higher_is_better","requires_reference"]].to_string())
    print(r.timing.to_string())
    print(r.methods[["method","split","kind","citation","ablation_of","ablation"]].to_string())
    print(r.method_names("test"))
    assert 0
