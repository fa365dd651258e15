// pbkeys pages: progressive enhancement only. Every action also works without
// this file (links lead to full pages, forms post normally); JavaScript adds
// modal dialogs, the Copy button and local times.
(function () {
	"use strict";

	// openModal shows dialog as a modal (the rest of the page becomes inert,
	// which traps focus) and returns focus to the opener when it closes.
	function openModal(dialog, opener) {
		if (!dialog || typeof dialog.showModal !== "function") {
			return false;
		}
		if (dialog.open) {
			dialog.close(); // rendered open for browsers without JavaScript
		}
		dialog.showModal();
		var onClose = function () {
			// close() above queues a "close" event that arrives after
			// showModal(): only a close that leaves the dialog shut counts.
			if (dialog.open) {
				return;
			}
			dialog.removeEventListener("close", onClose);
			if (opener && document.contains(opener)) {
				opener.focus();
			}
		};
		dialog.addEventListener("close", onClose);
		return true;
	}

	// Links such as "New API key" open their dialog instead of a page.
	document.querySelectorAll("a[data-dialog]").forEach(function (link) {
		link.addEventListener("click", function (event) {
			var dialog = document.getElementById(link.getAttribute("data-dialog"));
			if (openModal(dialog, link)) {
				event.preventDefault();
			}
		});
	});

	// Cancel buttons in dialogs. They are type=button, not a method=dialog
	// submit: the first submit button of a form is what Enter in a text
	// field activates, and that must be Create, not Cancel.
	document.querySelectorAll("dialog [data-dialog-close]").forEach(function (button) {
		button.addEventListener("click", function () {
			button.closest("dialog").close();
		});
	});

	// Revoke links open the shared confirmation dialog, naming the key. The
	// confirmation page and the revoke action share a URL (GET asks, POST
	// revokes), so the link's own href is the form's action.
	var revokeDialog = document.getElementById("revoke-dialog");
	document.querySelectorAll("a[data-revoke-label]").forEach(function (link) {
		link.addEventListener("click", function (event) {
			if (!revokeDialog) {
				return;
			}
			var label = link.getAttribute("data-revoke-label");
			revokeDialog.querySelector("[data-revoke-question]").textContent =
				"Revoke \u2018" + label + "\u2019?";
			revokeDialog.querySelector("form").setAttribute("action", link.getAttribute("href"));
			if (openModal(revokeDialog, link)) {
				event.preventDefault();
			}
		});
	});

	// Roll links open the shared Roll dialog, naming the key; like Revoke,
	// the link's href (the Roll page) is also the form's action.
	var rollDialog = document.getElementById("roll-dialog");
	document.querySelectorAll("a[data-roll-label]").forEach(function (link) {
		link.addEventListener("click", function (event) {
			if (!rollDialog) {
				return;
			}
			rollDialog.querySelector("[data-roll-question]").textContent =
				"Roll \u2018" + link.getAttribute("data-roll-label") + "\u2019?";
			rollDialog.querySelector("form").setAttribute("action", link.getAttribute("href"));
			if (openModal(rollDialog, link)) {
				event.preventDefault();
			}
		});
	});

	// Expiry: the date field is there for everyone (without JavaScript it
	// is used when "Custom date" is chosen); here it shows only then, and is
	// required then.
	document.querySelectorAll("[data-expiry]").forEach(function (group) {
		var choice = group.querySelector("[data-expiry-choice]");
		var custom = group.querySelector("[data-expiry-custom]");
		if (!choice || !custom) {
			return;
		}
		var date = custom.querySelector("input");
		var sync = function () {
			var on = choice.value === "custom";
			custom.hidden = !on;
			date.required = on;
		};
		choice.addEventListener("change", function () {
			sync();
			if (choice.value === "custom") {
				date.focus();
			}
		});
		sync();
	});

	// The reveal: rendered open (so it shows without JavaScript), upgraded
	// to a modal here. The page came from a POST: replace the history entry
	// so that reloading asks for the list with GET instead of re-posting.
	var reveal = document.querySelector("dialog[data-reveal]");
	if (reveal) {
		var secret = reveal.querySelector("[data-secret]");
		var copy = reveal.querySelector("[data-copy]");
		var status = reveal.querySelector("[data-copy-status]");
		var forget = function (event) {
			// Drop the plaintext from the page once the dialog is dismissed,
			// and before the page can be kept in the back/forward cache.
			if (event.type === "close" && reveal.open) {
				return; // the queued close from the upgrade to a modal
			}
			if (secret) {
				secret.textContent = "";
			}
			if (reveal.parentNode) {
				reveal.parentNode.removeChild(reveal);
			}
		};

		// Copy works only with JavaScript: show it (and drop the by-hand
		// hint) before the dialog opens, so that its autofocus applies.
		if (copy && secret) {
			copy.hidden = false;
			var hint = reveal.querySelector("[data-copy-hint]");
			if (hint) {
				hint.hidden = true;
			}
		}

		if (window.history && history.replaceState) {
			history.replaceState(null, "", reveal.getAttribute("data-return") || window.location.pathname);
		}
		openModal(reveal, document.querySelector("[data-new-key-opener]"));
		reveal.addEventListener("close", forget);
		window.addEventListener("pagehide", forget);

		var selectSecret = function () {
			var range = document.createRange();
			range.selectNodeContents(secret);
			var selection = window.getSelection();
			selection.removeAllRanges();
			selection.addRange(range);
		};
		var say = function (text, fallback) {
			status.textContent = text;
			status.classList.toggle("fallback", !!fallback);
		};
		var fallbackCopy = function () {
			selectSecret();
			var copied = false;
			try {
				copied = document.execCommand("copy");
			} catch (e) {
				copied = false;
			}
			if (copied) {
				say("Copied");
			} else {
				say("The key is selected: press Ctrl+C (\u2318C on a Mac) to copy it.", true);
			}
		};

		if (copy && secret) {
			copy.addEventListener("click", function () {
				var text = secret.textContent.trim();
				if (navigator.clipboard && window.isSecureContext) {
					navigator.clipboard.writeText(text).then(function () {
						say("Copied");
					}, fallbackCopy);
				} else {
					fallbackCopy();
				}
			});
		}
	}

	// Exact times on hover in the reader's own time zone (the server only
	// knows UTC).
	document.querySelectorAll("time[datetime][title]").forEach(function (el) {
		var d = new Date(el.getAttribute("datetime"));
		if (!isNaN(d.getTime())) {
			el.title = (el.getAttribute("data-title-prefix") || "") +
				d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "long" });
		}
	});
})();
