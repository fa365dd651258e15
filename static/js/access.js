// pbkeys pages: the permission editor, progressive enhancement only. Without
// this file every row is shown and the forms work the same; here the rows
// show only for "Only what I choose", a search box filters them when there
// are many, and the list's shared Roll dialog starts from the rolled key's
// permissions and addresses.
(function () {
	"use strict";

	var levels = ["none", "read", "write"];

	// setup wires one editor ([data-access]) and returns its sync function.
	function setup(editor) {
		var rows = editor.querySelector("[data-perm-editor]");
		if (!rows) {
			return function () {};
		}
		editor.querySelectorAll("[data-perm-nojs]").forEach(function (el) {
			el.hidden = true;
		});
		var custom = editor.querySelector("input[name=access][value=custom]");
		var sync = function () {
			rows.hidden = !(custom && custom.checked);
		};
		editor.querySelectorAll("input[name=access]").forEach(function (choice) {
			choice.addEventListener("change", sync);
		});

		var search = editor.querySelector("[data-perm-search]");
		var input = search && search.querySelector("[data-perm-filter]");
		var count = search && search.querySelector("[data-perm-count]");
		var filter = function () {};
		if (input) {
			var named = editor.querySelectorAll("[data-perm-row][data-collection]");
			filter = function () {
				var q = input.value.trim().toLowerCase();
				var shown = 0;
				named.forEach(function (row) {
					var match = q === "" || row.getAttribute("data-collection").toLowerCase().indexOf(q) >= 0;
					row.hidden = !match;
					if (match) {
						shown++;
					}
				});
				count.textContent = q === "" ? "" :
					shown + " of " + named.length + " collections shown; other collections and routes stay below.";
			};
			input.addEventListener("input", filter);
			// Enter in the search box must not send the form (browsers send
			// it on keypress; some input, e.g. synthesized, has a keypress
			// even when its keydown was cancelled).
			var keepForm = function (event) {
				if (event.key === "Enter") {
					event.preventDefault();
				}
			};
			input.addEventListener("keydown", keepForm);
			input.addEventListener("keypress", keepForm);
			search.hidden = false;
		}
		sync();
		return function () {
			if (input) {
				input.value = "";
				filter();
			}
			sync();
		};
	}

	var syncs = [];
	document.querySelectorAll("[data-access]").forEach(function (editor) {
		syncs.push({ editor: editor, sync: setup(editor) });
	});

	// fill sets the editor in form to a key's permissions (null: full
	// access; else name → level, where "*" is every collection not named
	// and "@routes" the app's routes) and addresses (one a line).
	function fill(form, perms, addresses) {
		var entry = syncs.filter(function (s) { return form.contains(s.editor); })[0];
		var textarea = form.querySelector("textarea[name=allowed_ips]");
		if (!entry || !textarea || (perms !== null && typeof perms !== "object")) {
			throw new Error("cannot fill in the permission editor");
		}
		var has = function (name) {
			return perms !== null && Object.prototype.hasOwnProperty.call(perms, name);
		};
		form.querySelector("input[name=access][value=" + (perms === null ? "full" : "custom") + "]").checked = true;
		entry.editor.querySelectorAll("[data-perm-row]").forEach(function (row) {
			var name = row.querySelector("input[type=radio]").name.slice("perm.".length);
			var level = "none";
			if (has(name)) {
				level = perms[name];
			} else if (row.hasAttribute("data-collection") && has("*")) {
				level = perms["*"];
			}
			if (levels.indexOf(level) < 0) {
				throw new Error("unknown level " + level);
			}
			row.querySelector("input[type=radio][value=" + level + "]").checked = true;
		});
		textarea.value = addresses;
		textarea.disabled = false;
		entry.sync();
	}

	// The list's Roll links: before the shared dialog opens (app.js, on the
	// link itself), fill it in from the link. If that fails, the dialog
	// does not open and the link leads to the Roll page, which the server
	// fills in.
	var rollDialog = document.getElementById("roll-dialog");
	document.addEventListener("click", function (event) {
		var link = event.target.closest && event.target.closest("a[data-roll-label]");
		if (!link || !rollDialog) {
			return;
		}
		try {
			fill(rollDialog.querySelector("form"),
				JSON.parse(link.getAttribute("data-roll-permissions") || "null"),
				link.getAttribute("data-roll-addresses") || "");
		} catch (e) {
			event.stopPropagation();
		}
	}, true);
})();
