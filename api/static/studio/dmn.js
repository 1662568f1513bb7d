/* DMN decision tables in dmn-js (the modeler bundle from npm): open a .dmn file of the version, edit its
   tables, and hand back the XML when the bundle is validated or deployed. The 1 MB bundle is loaded the first
   time a DMN file is opened (it also logs an Inferno development-mode notice, an upstream dmn-js quirk). */
'use strict';

const StudioDmn = (() => {
  class DmnEditor {
    constructor(container, script) {
      this.container = container;
      this.script = script;
      this.modeler = null;
      this.baseline = null;
    }

    load() {
      if (window.DmnJS) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const tag = document.createElement('script');
        tag.src = this.script;
        tag.onload = resolve;
        tag.onerror = () => reject(new Error('the DMN editor (dmn-js) could not be loaded'));
        document.head.append(tag);
      });
    }

    async open(name, xml) {
      await this.load();
      if (!this.modeler) this.modeler = new DmnJS({container: this.container});
      this.name = name;
      await this.modeler.importXML(xml);
      const decision = this.modeler.getViews().find((v) => v.type === 'decisionTable');
      if (decision) await this.modeler.open(decision);
      this.baseline = (await this.modeler.saveXML({format: true})).xml;
    }

    /** The file's text if it was changed since it was opened, else null. */
    async changed() {
      if (!this.modeler || !this.name) return null;
      const {xml} = await this.modeler.saveXML({format: true});
      return xml === this.baseline ? null : xml;
    }
  }

  return {DmnEditor};
})();
