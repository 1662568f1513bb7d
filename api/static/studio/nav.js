/* The header's role links (e.g. "Studio" for quality managers): shown once the page has asked who is signed in.
   Wraps Accredit.me so no page needs to know about links for other roles (the API still decides access). */
'use strict';

(() => {
  const original = Accredit.me;
  Accredit.me = async (...args) => {
    const user = await original(...args);
    for (const link of document.querySelectorAll('#nav [data-role]')) {
      link.hidden = !(user && user.roles.includes(link.dataset.role));
    }
    return user;
  };
})();
