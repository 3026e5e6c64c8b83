"""申請・通報: staff-built forms answered in chat; each submission a tracked case."""
