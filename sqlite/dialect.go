package sqlite

import (
	"errors"

	"github.com/keyward/keyward/sqlstore"
	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect: the statements are written in SQLite's SQL already, and its
// constraint messages name columns as "table.column".
var dialect = &sqlstore.Dialect{
	Rewrite: func(sql string) string { return sql },
	IsDuplicate: func(err error) bool {
		switch sqliteCode(err) {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return true
		}
		return false
	},
	IsMissingParent: func(err error) bool { return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY },
}

func sqliteCode(err error) int {
	var se *sqlitedriver.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}
