"""お知らせ配信: topics and 配信設定, member groups, broadcasts."""
