// Security keys (WebAuthn) for infrawg, with no build step and no inline script (CSP).
// A button with data-webauthn="create" or "get" carries the server's options (JSON from
// py_webauthn's options_to_json) in data-webauthn-options; pressing it asks the browser,
// writes the credential as JSON into the form's hidden field named by data-webauthn-field
// and submits the form. The server verifies everything; this file only converts bytes.
(function () {
  "use strict";

  function toBytes(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map(function (item) {
      return Object.assign({}, item, { id: toBytes(item.id) });
    });
  }

  function creationOptions(options) {
    return Object.assign({}, options, {
      challenge: toBytes(options.challenge),
      user: Object.assign({}, options.user, { id: toBytes(options.user.id) }),
      excludeCredentials: withIds(options.excludeCredentials)
    });
  }

  function requestOptions(options) {
    return Object.assign({}, options, {
      challenge: toBytes(options.challenge),
      allowCredentials: withIds(options.allowCredentials)
    });
  }

  function credentialJSON(credential) {
    var answer = credential.response;
    var response = { clientDataJSON: toBase64url(answer.clientDataJSON) };
    if (answer.attestationObject) {
      response.attestationObject = toBase64url(answer.attestationObject);
      response.transports = answer.getTransports ? answer.getTransports() : [];
    } else {
      response.authenticatorData = toBase64url(answer.authenticatorData);
      response.signature = toBase64url(answer.signature);
      if (answer.userHandle) { response.userHandle = toBase64url(answer.userHandle); }
    }
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: response,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults()
    };
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-webauthn]") : null;
    if (!button) { return; }
    event.preventDefault();
    var form = button.form || button.closest("form");
    var status = form.querySelector("[data-webauthn-status]");
    var mode = button.getAttribute("data-webauthn");
    if (mode === "create" && !form.reportValidity()) { return; }
    if (!window.PublicKeyCredential) {
      status.textContent = "This browser cannot use security keys.";
      return;
    }
    var options = JSON.parse(button.getAttribute("data-webauthn-options"));
    var asked = mode === "create"
      ? navigator.credentials.create({ publicKey: creationOptions(options) })
      : navigator.credentials.get({ publicKey: requestOptions(options) });
    status.textContent = "Touch your security key…";
    asked.then(function (credential) {
      var field = form.querySelector("input[name='" + button.getAttribute("data-webauthn-field") + "']");
      field.value = JSON.stringify(credentialJSON(credential));
      status.textContent = "Checking…";
      form.submit();
    }).catch(function (error) {
      status.textContent = "The security key did not answer: " + error.message;
    });
  });
})();
